package master

import (
	"context"
	"sync/atomic"
	"time"
)

// queueDepthTimeout bounds the question a scrape asks of JetStream.
const queueDepthTimeout = time.Second

// JobsByState counts the jobs the master knows by their state, as Status
// reports it.
func (m *Master) JobsByState() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	counts := map[string]int{}
	for id, v := range m.jobs {
		state, _ := m.stateLocked(id, v)
		if v.waiting != "" {
			state = JobWaiting
		}
		counts[string(state)]++
	}
	return counts
}

// QueueDepth is how many task messages the task queue holds: published
// and not yet acknowledged. ok is false if JetStream does not answer
// within queueDepthTimeout.
func (m *Master) QueueDepth() (n int, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), queueDepthTimeout)
	defer cancel()
	info, err := m.store.Tasks.Info(ctx)
	if err != nil {
		return 0, false
	}
	return int(info.State.Msgs), true
}

// Current is the master of the current term, for the gauges of package
// metrics (metrics.MasterState), which outlive a term: RunLeader makes a
// Master per term. With none set, it reports no jobs and no queue. It is
// safe for concurrent use.
type Current struct{ m atomic.Pointer[Master] }

// Set makes m the current master; nil, none.
func (c *Current) Set(m *Master) { c.m.Store(m) }

// JobsByState is the current master's, or none.
func (c *Current) JobsByState() map[string]int {
	if m := c.m.Load(); m != nil {
		return m.JobsByState()
	}
	return nil
}

// QueueDepth is the current master's; ok is false with none.
func (c *Current) QueueDepth() (int, bool) {
	if m := c.m.Load(); m != nil {
		return m.QueueDepth()
	}
	return 0, false
}
