package tasks

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestNewServerRefusesABadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"queue name":    {Queues: map[string]int{"a.b": 1}},
		"concurrency":   {Queues: map[string]int{"a": 0}},
		"lease":         {Lease: -time.Second},
		"tiny lease":    {Lease: time.Millisecond},
		"backoff":       {Backoff: Backoff{Base: -time.Second}},
		"sweep grace":   {SweepGrace: -time.Second},
		"backoff max":   {Backoff: Backoff{Max: -1}},
		"empty queue":   {Queues: map[string]int{"": 1}},
		"long queue":    {Queues: map[string]int{string(make([]byte, MaxQueueLen+1)): 1}},
		"wildcard name": {Queues: map[string]int{">": 1}},
	} {
		if _, err := NewServer(nil, cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewServer(%s) = %v, want ErrInvalidConfig", name, err)
		}
	}
	s, err := NewServer(nil, Config{})
	if err != nil {
		t.Fatal(err)
	}
	if s.cfg.Queues[DefaultQueue] != DefaultConcurrency || s.cfg.Lease != DefaultLease || s.cfg.Backoff.Base != DefaultBackoffBase ||
		s.cfg.Backoff.Max != DefaultBackoffMax || s.cfg.SweepEvery != DefaultSweepEvery || s.ID() == "" {
		t.Fatalf("NewServer with defaults = %+v", s.cfg)
	}
	if _, err := NewClient(context.Background(), nil, ClientConfig{ArchiveFor: -1}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("NewClient with a negative ArchiveFor: %v, want ErrInvalidConfig", err)
	}
}
