package timesvc_test

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/testutil"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/timesvc"
)

// newClock makes a Clock over b with cfg, whose nil Logger means silence.
func newClock(t *testing.T, b *brokertest.Server, cfg timesvc.ClockConfig) *timesvc.Clock {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	clock, err := timesvc.NewClock(client(t, b.Connect()), cfg)
	if err != nil {
		t.Fatalf("NewClock: %v", err)
	}
	return clock
}

func mustSync(t *testing.T, clock *timesvc.Clock) {
	t.Helper()
	if err := clock.Sync(context.Background()); err != nil {
		t.Fatalf("Sync = %v", err)
	}
}

// TestClockMonotonic moves the server's clock back between syncs: Now
// holds instead of going back, and Bound covers the hold.
func TestClockMonotonic(t *testing.T) {
	b := brokertest.Start(t)
	local := newManualClock()
	server := &serverOf{local: local}
	server.setSkew(3 * time.Second)
	serve(t, b, server.Now)
	clock := newClock(t, b, timesvc.ClockConfig{Local: local.Now, Samples: 2})

	if clock.Synced() || clock.Bound() != timesvc.Unbounded {
		t.Fatalf("before Sync: Synced() = %v, Bound() = %v; want false, Unbounded", clock.Synced(), clock.Bound())
	}
	mustSync(t, clock)
	if got, want := clock.Now(), local.Now().Add(3*time.Second); !got.Equal(want) {
		t.Fatalf("Now() = %v, want local + 3s = %v", got, want)
	}
	last := clock.Now()
	steps := []struct {
		advance   time.Duration // of the local clock
		skew      time.Duration // the server's new skew, resynced
		wantAhead time.Duration // Now() minus local time
		wantBound time.Duration
	}{
		{time.Second, 3*time.Second - 50*time.Millisecond, 3 * time.Second, 50 * time.Millisecond},
		{20 * time.Millisecond, 3*time.Second - 80*time.Millisecond, 2980 * time.Millisecond, 60 * time.Millisecond},
		{100 * time.Millisecond, 3*time.Second - 80*time.Millisecond, 2920 * time.Millisecond, 0},
		{time.Second, 3 * time.Second, 3 * time.Second, 0}, // forward is a step
	}
	for i, s := range steps {
		local.Advance(s.advance)
		for _, resync := range []bool{false, true} {
			if resync {
				server.setSkew(s.skew)
				mustSync(t, clock)
			}
			got := clock.Now()
			if got.Before(last) {
				t.Errorf("step %d: Now() = %v, before an earlier %v", i, got, last)
			}
			last = got
		}
		if ahead := last.Sub(local.Now()); ahead != s.wantAhead {
			t.Errorf("step %d: Now() - local = %v, want %v", i, ahead, s.wantAhead)
		}
		if bound := clock.Bound(); bound != s.wantBound {
			t.Errorf("step %d: Bound() = %v, want %v", i, bound, s.wantBound)
		}
	}
}

// TestClockServerGoesAway: while the server is gone, Sync fails, Now goes
// on and Bound grows with MaxDrift; once a server is back, Sync succeeds
// and Bound shrinks again.
func TestClockServerGoesAway(t *testing.T) {
	b := brokertest.Start(t)
	local := newManualClock()
	server := &serverOf{local: local}
	server.setSkew(3 * time.Second)
	srv := serve(t, b, server.Now)
	clock := newClock(t, b, timesvc.ClockConfig{Local: local.Now, Timeout: 300 * time.Millisecond})
	mustSync(t, clock)
	if got := clock.Bound(); got != 0 {
		t.Fatalf("Bound() after Sync = %v, want 0 (the manual clock makes RTT 0)", got)
	}

	if err := srv.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// No responders, or a timeout if the deadline came while a resend was
	// on its way: rpcq cannot tell those apart.
	if err := clock.Sync(context.Background()); !errors.Is(err, rpcq.ErrNoResponders) && !errors.Is(err, rpcq.ErrTimeout) {
		t.Fatalf("Sync with the server gone = %v, want rpcq.ErrNoResponders or rpcq.ErrTimeout", err)
	}
	synced := local.Now()
	for _, elapsed := range []time.Duration{10 * time.Second, time.Minute} {
		local.Advance(elapsed - local.Now().Sub(synced))
		// 100 ppm of the time since the last good sync.
		if got, want := clock.Bound(), elapsed/10000; got != want {
			t.Errorf("Bound() %v after the last sync = %v, want %v", elapsed, got, want)
		}
		if got, want := clock.Now(), local.Now().Add(3*time.Second); !got.Equal(want) {
			t.Errorf("Now() %v after the last sync = %v, want %v", elapsed, got, want)
		}
	}

	serve(t, b, server.Now)
	mustSync(t, clock)
	if got := clock.Bound(); got != 0 {
		t.Errorf("Bound() after the server came back = %v, want 0", got)
	}
}

// TestClockRun runs a Clock that starts before its server: it retries
// until the server is up, then tells the server's time within its bound.
func TestClockRun(t *testing.T) {
	b := brokertest.Start(t)
	const skew = 3 * time.Second
	var logs testutil.SyncBuffer
	clock := newClock(t, b, timesvc.ClockConfig{
		Interval: 10 * time.Millisecond,
		Timeout:  50 * time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- clock.Run(ctx) }()

	brokertest.WaitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "sync failed") },
		"a failed sync to be logged")
	if clock.Synced() {
		t.Fatal("Synced() = true with no server")
	}
	serve(t, b, skewed(skew))
	brokertest.WaitFor(t, 10*time.Second, clock.Synced, "the Clock to sync")
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("Run = %v after cancel, want context.Canceled", err)
	}

	// With Run stopped, nothing moves the estimate: Now is off by at most
	// the Bound read just before it (plus the 100 ppm of the microseconds
	// between the two reads).
	bound := clock.Bound() + time.Microsecond
	before := time.Now()
	now := clock.Now()
	after := time.Now()
	if lo, hi := before.Add(skew-bound), after.Add(skew+bound); now.Before(lo) || now.After(hi) {
		t.Errorf("Now() = %v, want within [%v, %v]: local + 3s ± %v", now, lo, hi, bound)
	}
	if bound > time.Millisecond {
		t.Errorf("Bound() = %v, want under 1ms on loopback", bound)
	}
}

func TestNewClockInvalidConfig(t *testing.T) {
	b := brokertest.Start(t)
	c := client(t, b.Connect())
	tests := []struct {
		cfg   timesvc.ClockConfig
		field string
	}{
		{timesvc.ClockConfig{Interval: -time.Second}, "Interval"},
		{timesvc.ClockConfig{Samples: -1}, "Samples"},
		{timesvc.ClockConfig{Timeout: -time.Second}, "Timeout"},
		{timesvc.ClockConfig{MaxDrift: -1}, "MaxDrift"},
		{timesvc.ClockConfig{MaxDrift: 2e6}, "MaxDrift"},
	}
	for _, tt := range tests {
		_, err := timesvc.NewClock(c, tt.cfg)
		if !errors.Is(err, timesvc.ErrInvalidConfig) || !strings.Contains(err.Error(), tt.field) {
			t.Errorf("NewClock(%+v) = %v, want ErrInvalidConfig naming %s", tt.cfg, err, tt.field)
		}
	}
	if _, err := timesvc.NewClock(nil, timesvc.ClockConfig{}); !errors.Is(err, timesvc.ErrInvalidConfig) {
		t.Errorf("NewClock(nil client) = %v, want ErrInvalidConfig", err)
	}
}
