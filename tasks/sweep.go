package tasks

import (
	"context"
	"math/rand/v2"
	"time"
)

// Defaults of the sweep for tasks that lost their message.
const (
	// DefaultSweepEvery is how often a server looks for tasks whose
	// message was never published.
	DefaultSweepEvery = time.Minute
	// DefaultSweepGrace is how old such a task must be: an Enqueue or
	// Rerun still under way publishes its message within it.
	DefaultSweepGrace = time.Minute
)

// sweep republishes, every SweepEvery with jitter, the message of each
// task of this server's queues that waits (pending, scheduled, retrying)
// with no message in its queue and has done so for longer than
// SweepGrace. Only a producer killed between its record and its message
// leaves such a task: every other step keeps a waiting task's message in
// the queue until the task ends. The republished message has the run's
// own ID, so a late publish of the original within the duplicate window
// is stored once.
func (s *Server) sweep(ctx context.Context, st *store) {
	for {
		wait := s.cfg.SweepEvery/2 + rand.N(s.cfg.SweepEvery/2+1) // servers started together sweep apart
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if n, err := s.sweepOnce(ctx, st); err != nil && ctx.Err() == nil {
			s.log.Warn("tasks: sweep", "error", err)
		} else if n > 0 {
			s.log.Warn("tasks: sweep republished tasks whose producer died before publishing", "tasks", n)
		}
	}
}

// sweepOnce is one pass of sweep; it returns how many tasks it
// republished.
func (s *Server) sweepOnce(ctx context.Context, st *store) (int, error) {
	now := s.cfg.Clock()
	var orphans []record
	err := st.scan(ctx, s.log, func(r record) {
		waiting := r.State == StatePending || r.State == StateScheduled || r.State == StateRetrying
		if _, ours := s.cfg.Queues[r.Queue]; ours && waiting && now.Sub(time.Unix(0, r.EnqueuedAt)) > s.cfg.SweepGrace {
			orphans = append(orphans, r)
		}
	})
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range orphans {
		has, err := st.hasMessage(ctx, r)
		if err != nil {
			return n, err
		}
		if has {
			continue
		}
		if err := st.openGroup(ctx, r); err != nil {
			return n, err
		}
		if _, err := st.publish(ctx, r, nil, 0); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
