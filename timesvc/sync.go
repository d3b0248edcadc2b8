package timesvc

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/rpcq"
)

// SampleOnce takes one sample: it stamps T1 with local, calls Time.Now,
// and stamps T4 when the reply is in. local nil means time.Now, whose
// monotonic reading makes T4 − T1 exact.
//
// The call is rpcq.ReadOnly, so it is resent until a reply comes or ctx
// ends. That is safe for the sample: T1 precedes every send and T4 follows
// the reply, whichever send it answers, so a resend only widens the bound.
// A reply whose stamps fail Sample.Check is an error wrapping ErrBadSample.
func SampleOnce(ctx context.Context, c *rpcq.Client, local func() time.Time) (Sample, error) {
	if local == nil {
		local = time.Now
	}
	var reply NowReply
	t1 := local()
	err := c.Call(ctx, ServiceMethod, struct{}{}, &reply, rpcq.WithMode(rpcq.ReadOnly))
	t4 := local()
	if err != nil {
		return Sample{}, err
	}
	if reply.T2 == 0 || reply.T3 == 0 {
		return Sample{}, fmt.Errorf("%w: the server sent no T2 or T3 (%+v)", ErrBadSample, reply)
	}
	s := Sample{T1: t1, T2: time.Unix(0, reply.T2), T3: time.Unix(0, reply.T3), T4: t4}
	if err := s.Check(); err != nil {
		return Sample{}, err
	}
	return s, nil
}

// Measure takes n samples one after another and returns their Best. They
// are sequential on purpose: samples in flight together queue behind each
// other and inflate each other's RTT. The first error ends the measurement;
// n < 1 is ErrNoSamples.
func Measure(ctx context.Context, c *rpcq.Client, n int, local func() time.Time) (Estimate, error) {
	samples := make([]Sample, 0, max(n, 0))
	for range n {
		s, err := SampleOnce(ctx, c, local)
		if err != nil {
			return Estimate{}, err
		}
		samples = append(samples, s)
	}
	return Best(samples)
}

// SyncTime is the lecture's exercise: it takes one sample over nc with a
// client of its own and returns the time the local clock should be set to,
// T3 + RTT/2 with RTT = (T4 − T1) − (T3 − T2). The answer is the server's
// time at T4 and ages as it is held. Measure gives the offset with its
// error bound from several samples, and a Clock keeps the server's time
// current.
func SyncTime(ctx context.Context, nc *nats.Conn) (time.Time, error) {
	c, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		return time.Time{}, err
	}
	defer c.Close()
	s, err := SampleOnce(ctx, c, time.Now)
	if err != nil {
		return time.Time{}, err
	}
	return s.ServerTime(), nil
}
