package timesvc

import (
	"math"
	"time"
)

// Unbounded is the Bound of a Clock that has never synced.
const Unbounded = time.Duration(math.MaxInt64)

// timeline is a Clock's arithmetic, with no lock, NATS or clock read: every
// method takes the local time as a value. It follows one estimate at a time
// and remembers the latest time it handed out, so that it never hands out
// an earlier one.
type timeline struct {
	drift  float64   // the clocks' largest relative drift, in ppm (ClockConfig.MaxDrift)
	est    Estimate  // the estimate followed, once synced
	synced bool      // est is set
	last   time.Time // the latest time now returned since the first sync
}

// serverTime is the server's time at local time t by e: the server's time
// at the measurement plus the local time elapsed since. When t and e.At
// carry monotonic readings the elapsed time is monotonic, so a step of the
// local wall clock does not move the server's time.
func serverTime(e Estimate, t time.Time) time.Time {
	return e.ServerTime().Add(t.Sub(e.At))
}

// bound is e's error bound at local time t: the measured bound plus how far
// two clocks drifting apart at drift ppm can have moved since.
func bound(e Estimate, t time.Time, drift float64) time.Duration {
	elapsed := t.Sub(e.At)
	if elapsed < 0 { // a local clock that is not monotonic
		elapsed = -elapsed
	}
	return e.Bound + time.Duration(math.Ceil(float64(elapsed)*drift/1e6))
}

// now is the server's time at local time t, or the latest time now
// returned, whichever is later: when a resync moves the offset back, the
// time holds until the new estimate catches up instead of jumping back.
// Before the first sync it is the local time; nothing is remembered, so
// the first sync may move the time either way.
func (l *timeline) now(t time.Time) time.Time {
	if !l.synced {
		return t.Round(0)
	}
	st := serverTime(l.est, t)
	if st.Before(l.last) {
		return l.last
	}
	l.last = st
	return st
}

// bound is how far now(t) can be from the server's true time: the
// estimate's grown bound, plus how far a held time lags behind the
// estimate. Unbounded before the first sync.
func (l *timeline) bound(t time.Time) time.Duration {
	if !l.synced {
		return Unbounded
	}
	b := bound(l.est, t, l.drift)
	if lag := l.last.Sub(serverTime(l.est, t)); lag > 0 {
		b += lag
	}
	return b
}

// update follows e unless the estimate already followed is still the
// tighter one at local time t, its bound grown by drift included; it
// reports whether it took e. A resync through a congested network thus
// keeps a good old estimate until drift has made it worse than the new one.
func (l *timeline) update(e Estimate, t time.Time) bool {
	if l.synced && bound(e, t, l.drift) > bound(l.est, t, l.drift) {
		return false
	}
	l.est, l.synced = e, true
	return true
}
