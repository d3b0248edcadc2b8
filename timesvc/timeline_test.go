package timesvc

import (
	"testing"
	"time"
)

const ppm100 = 100.0

// estimateAt is an estimate measured at local time at.
func estimateAt(at time.Time, offset, bound time.Duration) Estimate {
	return Estimate{Offset: offset, RTT: 2 * bound, Bound: bound, At: at, Samples: 1, Used: 1}
}

func TestTimelineBeforeSync(t *testing.T) {
	var l timeline
	if got := l.now(base); !got.Equal(base) {
		t.Errorf("now(base) before a sync = %v, want the local time %v", got, base)
	}
	if got := l.bound(base); got != Unbounded {
		t.Errorf("bound(base) before a sync = %v, want Unbounded", got)
	}
	// The first sync may move the time back: nothing was promised before it.
	l.update(estimateAt(base, -time.Hour, time.Millisecond), base)
	if got, want := l.now(base), base.Add(-time.Hour); !got.Equal(want) {
		t.Errorf("now(base) after syncing to -1h = %v, want %v", got, want)
	}
}

func TestTimelineBoundGrows(t *testing.T) {
	l := timeline{drift: ppm100}
	l.update(estimateAt(base, 3*time.Second, 100*time.Microsecond), base)
	tests := []struct {
		elapsed   time.Duration
		wantBound time.Duration
	}{
		{0, 100 * time.Microsecond},
		{time.Second, 200 * time.Microsecond},
		{10 * time.Second, 1100 * time.Microsecond},
		{time.Hour, 360100 * time.Microsecond},
	}
	for _, tt := range tests {
		at := base.Add(tt.elapsed)
		if got := l.bound(at); got != tt.wantBound {
			t.Errorf("bound(%v later) = %v, want %v", tt.elapsed, got, tt.wantBound)
		}
		if got, want := l.now(at), at.Add(3*time.Second); !got.Equal(want) {
			t.Errorf("now(%v later) = %v, want %v", tt.elapsed, got, want)
		}
	}
}

// TestTimelineHoldsOnBackwardResync: a resync that moves the offset back
// 50 ms makes now hold, and bound cover the hold, until the new estimate
// catches up.
func TestTimelineHoldsOnBackwardResync(t *testing.T) {
	const ms = time.Millisecond
	l := timeline{drift: ppm100}
	l.update(estimateAt(base, 3*time.Second, 0), base)
	t1 := base.Add(time.Second)
	before := l.now(t1) // base + 4s
	if !l.update(estimateAt(t1, 3*time.Second-50*ms, 0), t1) {
		t.Fatal("update refused a tighter estimate")
	}
	tests := []struct {
		elapsed   time.Duration // since the resync
		wantNow   time.Time
		wantBound time.Duration
	}{
		{0, before, 50 * ms},
		{20 * ms, before, 30*ms + 2*time.Microsecond},
		{50 * ms, before, 5 * time.Microsecond},
		{60 * ms, before.Add(10 * ms), 6 * time.Microsecond},
	}
	last := before
	for _, tt := range tests {
		at := t1.Add(tt.elapsed)
		got := l.now(at)
		if got.Before(last) {
			t.Errorf("now(%v after the resync) = %v, before an earlier answer %v", tt.elapsed, got, last)
		}
		last = got
		if !got.Equal(tt.wantNow) {
			t.Errorf("now(%v after the resync) = %v, want %v", tt.elapsed, got, tt.wantNow)
		}
		if b := l.bound(at); b != tt.wantBound {
			t.Errorf("bound(%v after the resync) = %v, want %v", tt.elapsed, b, tt.wantBound)
		}
	}
}

func TestTimelineKeepsTighterEstimate(t *testing.T) {
	l := timeline{drift: ppm100}
	old := estimateAt(base, 3*time.Second, 100*time.Microsecond)
	l.update(old, base)
	// Ten seconds on, the old bound has grown to 1.1 ms: a congested 5 ms is worse.
	t1 := base.Add(10 * time.Second)
	if l.update(estimateAt(t1, 3*time.Second+4*time.Millisecond, 5*time.Millisecond), t1) {
		t.Errorf("update took a 5ms bound over a grown 1.1ms one")
	}
	if l.est != old {
		t.Errorf("estimate = %+v after a refused update, want %+v", l.est, old)
	}
	// Two minutes on, the old bound is 12.1 ms: the same 5 ms is better.
	t2 := base.Add(2 * time.Minute)
	congested := estimateAt(t2, 3*time.Second+4*time.Millisecond, 5*time.Millisecond)
	if !l.update(congested, t2) {
		t.Errorf("update refused a 5ms bound over a grown 12.1ms one")
	}
	if l.est != congested {
		t.Errorf("estimate = %+v, want %+v", l.est, congested)
	}
}
