package timesvc

import (
	"fmt"
	"time"
)

// Sample is one exchange of Cristian's algorithm. T1 and T4 are read from
// the local clock when the request leaves and when the reply arrives; T2
// and T3 from the server's clock when the request arrives and when the
// reply leaves.
//
// Let d1 and d2 be the request's and the reply's one-way delays and θ the
// server's clock minus the local one. Then T2 = T1 + d1 + θ and
// T4 + θ = T3 + d2, so
//
//	RTT    = (T4 − T1) − (T3 − T2) = d1 + d2
//	Offset = T3 + RTT/2 − T4       = θ + (d1 − d2)/2
//
// The error of Offset is half the asymmetry of the two delays. Both delays
// are at least zero, so the error is at most RTT/2 however the network
// behaved: θ lies within Offset ± Bound. The algebra ignores the clocks'
// drift during the exchange, which at 100 ppm over a 1 ms round trip is
// 100 ns.
//
// T4.Sub(T1) uses the monotonic clock when both stamps carry a reading
// (time.Now's do), so a step of the local wall clock mid-exchange cannot
// corrupt the RTT; Offset compares wall clocks, as it must.
type Sample struct {
	T1, T2, T3, T4 time.Time
}

// RTT is the round trip less the server's processing: (T4 − T1) − (T3 − T2),
// the time the request and the reply spent travelling.
func (s Sample) RTT() time.Duration { return s.T4.Sub(s.T1) - s.T3.Sub(s.T2) }

// Offset estimates the server's clock minus the local clock at T4:
// T3 + RTT/2 − T4. A positive offset means the server is ahead.
func (s Sample) Offset() time.Duration { return s.ServerTime().Sub(s.T4) }

// Bound is how far the true offset can be from Offset: RTT/2, rounded up
// so that the nanosecond Offset truncates away stays inside it.
func (s Sample) Bound() time.Duration { return (s.RTT() + 1) / 2 }

// ServerTime is the lecture's answer, the time the local clock should be
// set to at T4: T3 + RTT/2. It is a wall-clock time without a monotonic
// reading, and it ages as it is held; a Clock keeps it current.
func (s Sample) ServerTime() time.Time { return s.T3.Add(s.RTT() / 2) }

// Check reports, wrapping ErrBadSample, stamps that cannot all be true: a
// clock that ran backwards, or a server that spent longer on the request
// than the whole round trip took (a negative RTT). Nothing can be learnt
// from such a sample; clamping it would report a bound that is false.
func (s Sample) Check() error {
	switch {
	case s.T4.Before(s.T1):
		return fmt.Errorf("%w: the reply arrived (T4) %v before the request left (T1)", ErrBadSample, s.T1.Sub(s.T4))
	case s.T3.Before(s.T2):
		return fmt.Errorf("%w: the server replied (T3) %v before the request arrived (T2)", ErrBadSample, s.T2.Sub(s.T3))
	case s.RTT() < 0:
		return fmt.Errorf("%w: the server's processing (T3−T2 = %v) exceeds the round trip (T4−T1 = %v)",
			ErrBadSample, s.T3.Sub(s.T2), s.T4.Sub(s.T1))
	}
	return nil
}

// MaxRTTRatio is the filter of Best: a sample whose RTT is more than
// MaxRTTRatio times the smallest waited in a queue somewhere (a busy
// broker, a descheduled process), and its delays say more about that queue
// than about the clocks. chrony's maxdelayratio is the same idea.
const MaxRTTRatio = 2

// Estimate is what several samples say about the server's clock.
type Estimate struct {
	// Offset is the server's clock minus the local clock: local time plus
	// Offset is the server's time.
	Offset time.Duration
	// RTT is the round trip of the sample the estimate rests on.
	RTT time.Duration
	// Bound is the error bound: at At, the true offset lay within
	// Offset ± Bound. It grows with the clocks' drift from then on.
	Bound time.Duration
	// At is the local time of the measurement, the T4 of the sample the
	// estimate rests on.
	At time.Time
	// Samples is how many samples were taken; Used is how many had an RTT
	// within MaxRTTRatio of the smallest. Few used samples means a
	// congested path, and an estimate that rests on one lucky exchange.
	Samples, Used int
}

// ServerTime is the server's time at At: At + Offset, which is the T3 +
// RTT/2 of the chosen sample. It carries no monotonic reading.
func (e Estimate) ServerTime() time.Time { return e.At.Add(e.Offset).Round(0) }

// Best estimates the offset from samples as NTP and chrony do: it rests on
// the sample with the smallest RTT, because the smaller the round trip,
// the less room its two delays have to differ, and so the tighter the
// bound. Samples with an RTT above MaxRTTRatio times the smallest are
// discarded; Used counts the rest. A sample that fails Check fails the
// whole estimate: a server that stamps one reply wrongly may stamp them all
// wrongly. Best does not keep samples.
func Best(samples []Sample) (Estimate, error) {
	if len(samples) == 0 {
		return Estimate{}, ErrNoSamples
	}
	best := 0
	for i, s := range samples {
		if err := s.Check(); err != nil {
			return Estimate{}, fmt.Errorf("%w (sample %d of %d)", err, i+1, len(samples))
		}
		if s.RTT() < samples[best].RTT() {
			best = i
		}
	}
	b := samples[best]
	e := Estimate{Offset: b.Offset(), RTT: b.RTT(), Bound: b.Bound(), At: b.T4, Samples: len(samples)}
	for _, s := range samples {
		if s.RTT() <= MaxRTTRatio*e.RTT {
			e.Used++
		}
	}
	return e, nil
}
