package mr_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
)

func registry(t *testing.T) *mr.Registry {
	t.Helper()
	var reg mr.Registry
	if err := apps.Register(&reg); err != nil {
		t.Fatal(err)
	}
	return &reg
}

func TestValidate(t *testing.T) {
	good := func() mr.JobSpec {
		return mr.JobSpec{ID: "job-1", App: "wordcount", R: 2, Inputs: []mr.Input{{Name: "a.txt", Object: "inputs/x", Size: 10}}}
	}
	tests := []struct {
		name   string
		change func(*mr.JobSpec)
		want   string
	}{
		{"bad id", func(s *mr.JobSpec) { s.ID = "a.b" }, "job ID"},
		{"R zero", func(s *mr.JobSpec) { s.R = 0 }, "at least one reduce"},
		{"no inputs", func(s *mr.JobSpec) { s.Inputs = nil }, "no inputs"},
		{"unknown app", func(s *mr.JobSpec) { s.App = "nope" }, "unknown app"},
		{"bad args", func(s *mr.JobSpec) { s.App, s.Args = "grep", []string{"("} }, "grep"},
		{"object and path", func(s *mr.JobSpec) { s.Inputs[0].Path = "/x" }, "not both"},
		{"unnamed input", func(s *mr.JobSpec) { s.Inputs[0].Name = "" }, "no name"},
		{"negative timeout", func(s *mr.JobSpec) { s.Timeout = -1 }, "negative"},
		{"negative skipped records", func(s *mr.JobSpec) { s.MaxSkippedRecords = -1 }, "skipped records"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.change(&s)
			err := s.Validate(registry(t))
			if !errors.Is(err, mr.ErrInvalidSpec) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want ErrInvalidSpec about %q", err, tt.want)
			}
		})
	}
	s := good()
	if err := s.Validate(registry(t)); err != nil {
		t.Fatal(err)
	}
	if s.SplitSize != mr.DefaultSplitSize || s.MaxAttempts != mr.DefaultMaxAttempts || s.Timeout != mr.DefaultTaskTimeout ||
		s.MaxSkippedRecords != mr.DefaultMaxSkippedRecords {
		t.Errorf("defaults not filled in: %+v", s)
	}
}

func TestMapSplits(t *testing.T) {
	s := mr.JobSpec{SplitSize: 10, Inputs: []mr.Input{{Path: "a", Size: 25}, {Path: "b", Size: 0}, {Object: "c", Size: 30}}}
	got := s.MapSplits()
	want := []mr.MapSplit{
		{Input: 0, Split: mr.Split{Start: 0, End: 10}}, {Input: 0, Split: mr.Split{Start: 10, End: 20}}, {Input: 0, Split: mr.Split{Start: 20, End: 25}},
		{Input: 1, Split: mr.Split{}},
		{Input: 2, Split: mr.Split{Start: 0, End: 30}}, // an object is one split
	}
	if len(got) != len(want) {
		t.Fatalf("MapSplits() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("MapSplits()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	b := brokertest.Start(t)
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		if _, err := mr.Ensure(ctx, js, mr.StoreConfig{Lease: 2 * time.Second}); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
	}
	store, err := mr.Ensure(ctx, js, mr.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// A task reaches the workers' consumer, once however often it is published.
	for i := range 2 {
		ack, err := js.Publish(ctx, mr.TaskSubject("j", mr.PhaseReduce, 3), []byte("{}"), jetstream.WithMsgID(mr.MsgID("j", mr.PhaseReduce, 3, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicate != (i == 1) {
			t.Errorf("publish %d: Duplicate = %v", i+1, ack.Duplicate)
		}
	}
	// The consumer's count follows the stream's a moment later.
	var info *jetstream.ConsumerInfo
	brokertest.WaitFor(t, 10*time.Second, func() bool {
		info, err = store.Workers.Info(ctx)
		return err == nil && info.NumPending > 0
	}, "the task to reach the workers' consumer")
	// The first to create the consumer set its lease; later callers with
	// other defaults do not change it.
	if info.NumPending != 1 || info.Config.AckWait != 2*time.Second || store.Lease != 2*time.Second {
		t.Errorf("workers' consumer: %d pending, AckWait %v, store lease %v; want 1 and 2s", info.NumPending, info.Config.AckWait, store.Lease)
	}
}
