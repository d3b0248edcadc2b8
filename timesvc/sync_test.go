package timesvc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/timesvc"
)

// TestMeasureSkewedServer recovers a known skew over a real broker: the
// truth lies within the bound, and the bound is under 1 ms on loopback.
func TestMeasureSkewedServer(t *testing.T) {
	b := brokertest.Start(t)
	for _, skew := range []time.Duration{3 * time.Second, -2500 * time.Millisecond, 0, 26 * time.Hour} {
		t.Run(skew.String(), func(t *testing.T) {
			srv := serve(t, b, skewed(skew))
			defer srv.Shutdown(context.Background())
			c := client(t, b.Connect())
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			// Sixteen samples: the best of them is far from any scheduling
			// hiccup, even under the race detector on a busy machine.
			e, err := timesvc.Measure(ctx, c, 16, time.Now)
			if err != nil {
				t.Fatalf("Measure = %v", err)
			}
			if miss := (e.Offset - skew).Abs(); miss > e.Bound {
				t.Errorf("Measure offset = %v ± %v, want within the bound of %v (missed by %v)", e.Offset, e.Bound, skew, miss)
			}
			if e.Bound >= time.Millisecond {
				t.Errorf("Measure bound = %v (RTT %v), want under 1ms on loopback", e.Bound, e.RTT)
			}
			if e.Samples != 16 || e.Used < 1 {
				t.Errorf("Measure Samples, Used = %d, %d; want 16, at least 1", e.Samples, e.Used)
			}
		})
	}
}

// TestSyncTime is the lecture's exercise: the answer is the server's clock
// at T4, which lies between the calls before and after, give or take half
// of that interval.
func TestSyncTime(t *testing.T) {
	b := brokertest.Start(t)
	const skew = -3 * time.Second
	serve(t, b, skewed(skew))
	nc := b.Connect()
	before := time.Now()
	got, err := timesvc.SyncTime(context.Background(), nc)
	after := time.Now()
	if err != nil {
		t.Fatalf("SyncTime = %v", err)
	}
	slack := after.Sub(before) / 2
	lo, hi := before.Add(skew-slack), after.Add(skew+slack)
	if got.Before(lo) || got.After(hi) {
		t.Errorf("SyncTime = %v, want within [%v, %v]", got, lo, hi)
	}
}

// TestServeJSON asks the time the way a shell does, with an empty request:
//
//	nats request rpcq.Time.Now ''
func TestServeJSON(t *testing.T) {
	b := brokertest.Start(t)
	const skew = time.Hour
	serve(t, b, skewed(skew))
	nc := b.Connect()
	before := time.Now().Add(skew).UnixNano()
	m, err := nc.Request(timesvc.Subject, nil, 5*time.Second)
	if err != nil {
		t.Fatalf("request %s: %v", timesvc.Subject, err)
	}
	after := time.Now().Add(skew).UnixNano()
	var reply timesvc.NowReply
	dec := json.NewDecoder(bytes.NewReader(m.Data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&reply); err != nil {
		t.Fatalf("reply %q is not the JSON of NowReply: %v", m.Data, err)
	}
	if !strings.Contains(string(m.Data), `"t2":`) || reply.T2 < before || reply.T3 < reply.T2 || reply.T3 > after {
		t.Errorf("reply = %s, want t2 <= t3 within [%d, %d]", m.Data, before, after)
	}
}

// TestSampleOnceRejectsBadStamps serves a broken Time.Now and checks that
// its stamps are refused rather than believed.
func TestSampleOnceRejectsBadStamps(t *testing.T) {
	now := time.Now().UnixNano()
	tests := []struct {
		name  string
		reply timesvc.NowReply
		want  string
	}{
		{"processing longer than the round trip", timesvc.NowReply{T2: now, T3: now + int64(time.Hour)}, "exceeds the round trip"},
		{"server clock backwards", timesvc.NowReply{T2: now, T3: now - 1}, "before the request arrived"},
		{"no stamps", timesvc.NowReply{}, "no T2 or T3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := brokertest.Start(t)
			srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: timesvc.Service, Logger: quiet()})
			if err != nil {
				t.Fatal(err)
			}
			rpcq.HandleFunc(srv, timesvc.Method, func(context.Context, struct{}) (timesvc.NowReply, error) { return tt.reply, nil })
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			defer srv.Shutdown(context.Background())
			c := client(t, b.Connect())
			_, err = timesvc.SampleOnce(context.Background(), c, time.Now)
			if !errors.Is(err, timesvc.ErrBadSample) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SampleOnce = %v, want ErrBadSample saying %q", err, tt.want)
			}
			if _, err := timesvc.Measure(context.Background(), c, 3, time.Now); !errors.Is(err, timesvc.ErrBadSample) {
				t.Errorf("Measure = %v, want ErrBadSample", err)
			}
		})
	}
}

func TestMeasureNoSamples(t *testing.T) {
	b := brokertest.Start(t)
	c := client(t, b.Connect())
	if _, err := timesvc.Measure(context.Background(), c, 0, nil); !errors.Is(err, timesvc.ErrNoSamples) {
		t.Errorf("Measure(n=0) = %v, want ErrNoSamples", err)
	}
}

func TestMeasureNoServer(t *testing.T) {
	b := brokertest.Start(t)
	c := client(t, b.Connect())
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// A timeout if the deadline came while a resend was on its way.
	if _, err := timesvc.Measure(ctx, c, 4, nil); !errors.Is(err, rpcq.ErrNoResponders) && !errors.Is(err, rpcq.ErrTimeout) {
		t.Errorf("Measure with no server = %v, want rpcq.ErrNoResponders or rpcq.ErrTimeout", err)
	}
}

func TestServeInvalidConfig(t *testing.T) {
	b := brokertest.Start(t)
	_, err := timesvc.Serve(b.Connect(), timesvc.Config{Concurrency: -1})
	if !errors.Is(err, timesvc.ErrInvalidConfig) || !strings.Contains(err.Error(), "Concurrency") {
		t.Errorf("Serve(Concurrency -1) = %v, want ErrInvalidConfig naming Concurrency", err)
	}
}
