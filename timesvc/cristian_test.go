package timesvc

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// base is the local time of the first stamp in the pure tests.
var base = time.Date(2026, 11, 21, 20, 31, 5, 0, time.UTC)

// exchange is the sample of one simulated exchange: the request leaves at
// local time t1 and takes d1 to arrive, the server (whose clock is skew
// ahead) spends proc on it, and the reply takes d2 to come back.
func exchange(t1 time.Time, skew, d1, proc, d2 time.Duration) Sample {
	t2 := t1.Add(d1 + skew)
	t3 := t2.Add(proc)
	return Sample{T1: t1, T2: t2, T3: t3, T4: t1.Add(d1 + proc + d2)}
}

func abs(d time.Duration) time.Duration { return max(d, -d) }

func TestSampleAsymmetry(t *testing.T) {
	const ms, us = time.Millisecond, time.Microsecond
	tests := []struct {
		name               string
		skew, d1, proc, d2 time.Duration
	}{
		{"symmetric, server ahead", 3 * time.Second, 200 * us, 10 * us, 200 * us},
		{"symmetric, server behind", -3 * time.Second, 200 * us, 10 * us, 200 * us},
		{"slow request, server ahead", 2 * time.Second, 5 * ms, 50 * us, 1 * ms},
		{"slow reply, server behind", -2 * time.Second, 1 * ms, 50 * us, 5 * ms},
		{"instant request", 7 * time.Second, 0, 0, 4 * ms},
		{"instant reply", -7 * time.Second, 4 * ms, 0, 0},
		{"long processing", 1500 * ms, 300 * us, 40 * ms, 100 * us},
		{"no skew, no delay", 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := exchange(base, tt.skew, tt.d1, tt.proc, tt.d2)
			if err := s.Check(); err != nil {
				t.Fatalf("Check() = %v", err)
			}
			if got, want := s.RTT(), tt.d1+tt.d2; got != want {
				t.Errorf("RTT() = %v, want %v", got, want)
			}
			// The estimate's error is half the asymmetry of the delays.
			if got, want := s.Offset()-tt.skew, (tt.d1-tt.d2)/2; got != want {
				t.Errorf("Offset() - skew = %v, want (d1-d2)/2 = %v", got, want)
			}
			if err := s.Offset() - tt.skew; abs(err) > s.Bound() {
				t.Errorf("|Offset() - skew| = %v, outside Bound() = %v", abs(err), s.Bound())
			}
			// The lecture's answer is the server's clock at T4, up to the same error.
			truth := s.T4.Add(tt.skew)
			if got, want := s.ServerTime().Sub(truth), (tt.d1-tt.d2)/2; got != want {
				t.Errorf("ServerTime() - truth = %v, want %v", got, want)
			}
		})
	}
}

// TestSampleProperty checks the bound over random skews and delays,
// nanosecond-odd ones included, and on Best over random batches.
func TestSampleProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	dur := func(limit time.Duration) time.Duration {
		switch r.IntN(10) {
		case 0:
			return 0 // one-way delays of zero are where the bound is tight
		case 1:
			return time.Duration(r.Int64N(10)) // a few nanoseconds: rounding
		}
		return time.Duration(r.Int64N(int64(limit)))
	}
	for i := range 20000 {
		skew := time.Duration(r.Int64N(int64(2*time.Hour))) - time.Hour
		n := 1 + r.IntN(8)
		samples := make([]Sample, n)
		for j := range samples {
			t1 := base.Add(time.Duration(j) * time.Second)
			samples[j] = exchange(t1, skew, dur(50*time.Millisecond), dur(5*time.Millisecond), dur(50*time.Millisecond))
			s := samples[j]
			if err := s.Check(); err != nil {
				t.Fatalf("case %d: %+v: Check() = %v", i, s, err)
			}
			if abs(s.Offset()-skew) > s.Bound() {
				t.Fatalf("case %d: %+v, skew %v: Offset() = %v, Bound() = %v: the truth is outside", i, s, skew, s.Offset(), s.Bound())
			}
		}
		e, err := Best(samples)
		if err != nil {
			t.Fatalf("case %d: Best = %v", i, err)
		}
		if abs(e.Offset-skew) > e.Bound {
			t.Fatalf("case %d: Best offset %v ± %v, skew %v: the truth is outside", i, e.Offset, e.Bound, skew)
		}
		for _, s := range samples {
			if s.Bound() < e.Bound {
				t.Fatalf("case %d: Best bound %v, but a sample has %v", i, e.Bound, s.Bound())
			}
		}
		if e.Samples != n || e.Used < 1 || e.Used > n {
			t.Fatalf("case %d: Best Samples, Used = %d, %d of %d", i, e.Samples, e.Used, n)
		}
	}
}

// TestBestBeatsOneSampleUnderJitter simulates a path whose delays are a
// fixed 100 µs each way plus independent exponential jitter: the
// minimum-RTT sample of eight has a far smaller error and bound than one
// sample alone.
func TestBestBeatsOneSampleUnderJitter(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const (
		trials = 2000
		n      = 8
		floor  = 100 * time.Microsecond
		jitter = time.Millisecond // mean of the exponential part
	)
	delay := func() time.Duration { return floor + time.Duration(r.ExpFloat64()*float64(jitter)) }
	var oneErr, bestErr, oneBound, bestBound time.Duration
	for i := range trials {
		skew := time.Duration(r.Int64N(int64(20*time.Second))) - 10*time.Second
		samples := make([]Sample, n)
		for j := range samples {
			samples[j] = exchange(base.Add(time.Duration(i*n+j)*time.Second), skew, delay(), 20*time.Microsecond, delay())
		}
		e, err := Best(samples)
		if err != nil {
			t.Fatal(err)
		}
		oneErr += abs(samples[0].Offset() - skew)
		oneBound += samples[0].Bound()
		bestErr += abs(e.Offset - skew)
		bestBound += e.Bound
	}
	oneErr, bestErr, oneBound, bestBound = oneErr/trials, bestErr/trials, oneBound/trials, bestBound/trials
	t.Logf("mean |error|: one sample %v, best of %d %v; mean bound: %v, %v", oneErr, n, bestErr, oneBound, bestBound)
	if bestErr > oneErr/2 {
		t.Errorf("mean |error| of Best over %d = %v, want under half a single sample's %v", n, bestErr, oneErr)
	}
	if bestBound > oneBound/2 {
		t.Errorf("mean bound of Best over %d = %v, want under half a single sample's %v", n, bestBound, oneBound)
	}
}

func TestBestFilter(t *testing.T) {
	const us = time.Microsecond
	tests := []struct {
		rtts             []time.Duration // each split evenly between request and reply
		wantBest         int
		wantUsed         int
		wantBound, wantO time.Duration
	}{
		{[]time.Duration{300 * us}, 0, 1, 150 * us, 0},
		{[]time.Duration{300 * us, 100 * us, 150 * us, 250 * us, 1000 * us}, 1, 2, 50 * us, 0},
		{[]time.Duration{100 * us, 200 * us, 201 * us}, 0, 2, 50 * us, 0},
		{[]time.Duration{400 * us, 400 * us, 400 * us}, 0, 3, 200 * us, 0},
		{[]time.Duration{5 * us, 0, 7 * us}, 1, 1, 0, 0},
	}
	for _, tt := range tests {
		samples := make([]Sample, len(tt.rtts))
		for i, rtt := range tt.rtts {
			samples[i] = exchange(base.Add(time.Duration(i)*time.Second), 3*time.Second, rtt/2, time.Microsecond, rtt/2)
		}
		e, err := Best(samples)
		if err != nil {
			t.Fatalf("Best(RTTs %v) = %v", tt.rtts, err)
		}
		want := Estimate{Offset: 3 * time.Second, RTT: tt.rtts[tt.wantBest], Bound: tt.wantBound,
			At: samples[tt.wantBest].T4, Samples: len(tt.rtts), Used: tt.wantUsed}
		if e != want {
			t.Errorf("Best(RTTs %v) = %+v, want %+v", tt.rtts, e, want)
		}
	}
}

func TestBadSamples(t *testing.T) {
	const ms = time.Millisecond
	good := exchange(base, time.Second, ms, ms, ms)
	tests := []struct {
		name string
		s    Sample
		want string
	}{
		{"processing longer than the round trip", Sample{T1: base, T2: base, T3: base.Add(5 * ms), T4: base.Add(2 * ms)}, "exceeds the round trip"},
		{"reply before request", Sample{T1: base, T2: base, T3: base, T4: base.Add(-ms)}, "before the request left"},
		{"server clock backwards", Sample{T1: base, T2: base.Add(ms), T3: base, T4: base.Add(3 * ms)}, "before the request arrived"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Check()
			if !errors.Is(err, ErrBadSample) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Check() = %v, want ErrBadSample saying %q", err, tt.want)
			}
			_, err = Best([]Sample{good, tt.s, good})
			if !errors.Is(err, ErrBadSample) || !strings.HasSuffix(err.Error(), "(sample 2 of 3)") {
				t.Errorf("Best(good, bad, good) = %v, want ErrBadSample naming sample 2 of 3", err)
			}
		})
	}
	if _, err := Best(nil); !errors.Is(err, ErrNoSamples) {
		t.Errorf("Best(nil) = %v, want ErrNoSamples", err)
	}
}
