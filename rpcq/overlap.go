package rpcq

import (
	"context"
	"time"

	"github.com/nats-io/nats.go/micro"
)

// waitingCall is a call through a table that waits on I/O, taken off its
// endpoint's subscription (see ServerConfig.TableWaits).
type waitingCall struct {
	ctx   context.Context
	m     *method
	req   micro.Request
	codec Codec
	id    RequestID
	ack   uint64
	start time.Time
}

// runnerIdle is how long a goroutine that ran a waiting call waits for
// another before it ends.
const runnerIdle = time.Second

// runWaiting hands c to an idle runner, or starts one. A goroutine made
// for each call would grow its stack anew each time through the JetStream
// client, which showed in profiles with many calls in flight; a runner
// keeps its stack from call to call. Runners are at most as many as the
// calls the overlap semaphore admits, and end when idle, or with the
// server.
func (s *Server) runWaiting(c waitingCall) {
	select {
	case s.waiting <- c:
	default:
		go s.runner(c)
	}
}

func (s *Server) runner(c waitingCall) {
	idle := time.NewTimer(runnerIdle)
	defer idle.Stop()
	for {
		s.runCall(c)
		idle.Reset(runnerIdle)
		select {
		case c = <-s.waiting:
		case <-idle.C:
			return
		case <-s.base.Done():
			return
		}
	}
}

// runCall runs and answers a call off its endpoint's subscription.
func (s *Server) runCall(c waitingCall) {
	defer s.inflight.Done()
	s.runOnce(c.ctx, c.m, c.codec, c.req.Data(), c.id, c.ack, time.Now(), func(r Reply) { // it may have waited
		s.answer(detached{c.req, s.nc}, r)
		s.metrics.observe(s.cfg.Name, c.m, r.Code, c.start)
	})
	release(c.ctx)
	<-s.overlap
}
