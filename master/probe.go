package master

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/mr"
)

// How the shell looks for the workers of running attempts (see
// WorkerLost). A request to a worker's subject that finds nobody
// subscribed fails at once with "no responders"; a worker that is there
// never answers, and the request times out: a live worker costs a
// probeTimeout of waiting, in parallel with the others, and nothing more.
// A worker is lost after probesToLose answers of nobody in a row, a
// probeEvery apart, so that a worker reconnecting after a broker restart
// is not taken for dead: from a kill to the hand-back of its attempts is
// at most (probesToLose + 1) × probeEvery.
const (
	probeEvery   = 700 * time.Millisecond
	probeTimeout = 500 * time.Millisecond
	probesToLose = 2
)

// probeWorkers looks for the workers of running attempts every
// probeEvery until ctx ends, and tells the core of those found gone.
func (m *Master) probeWorkers(ctx context.Context) {
	tick := time.NewTicker(probeEvery)
	defer tick.Stop()
	missing := map[string]int{} // answers of nobody in a row, by worker
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		m.mu.Lock()
		workers := m.core.Workers()
		m.mu.Unlock()
		gone := m.probe(ctx, workers)
		next := map[string]int{}
		for _, w := range workers {
			if !gone[w] {
				continue
			}
			if next[w] = missing[w] + 1; next[w] >= probesToLose {
				m.log.Warn("master: worker gone; its tasks go to others", "worker", w)
				m.handle(WorkerLost{Worker: w})
				delete(next, w)
			}
		}
		missing = next
	}
}

// probe asks each worker's subject at once and reports those nobody is
// subscribed to. A worker whose ID cannot be a subject token is never
// found gone: the lease looks after it.
func (m *Master) probe(ctx context.Context, workers []string) map[string]bool {
	var (
		mu   sync.Mutex
		gone = map[string]bool{}
		wg   sync.WaitGroup
	)
	for _, w := range workers {
		if !mr.ValidWorkerID(w) {
			continue
		}
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			if _, err := m.nc.RequestWithContext(ctx, mr.WorkerSubject(w), nil); errors.Is(err, nats.ErrNoResponders) {
				mu.Lock()
				gone[w] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return gone
}

// maxAckLen bounds a task message's acknowledgement subject, as a
// Started event reports it: the longest prefix, then seven numbers.
var maxAckLen = len(mr.TaskAckPrefix(mr.ConsumerExecWorkers)) + 7*21

// validAck reports whether ack can be the acknowledgement subject of a
// task message of the workers' consumers: anyone who may publish events
// may put anything there, and the master publishes to it.
func validAck(ack string) bool {
	if len(ack) > maxAckLen || strings.ContainsAny(ack, "*> \t\r\n") || strings.Contains(ack, "..") || strings.HasSuffix(ack, ".") {
		return false
	}
	for _, c := range mr.TaskConsumers() {
		if strings.HasPrefix(ack, mr.TaskAckPrefix(c)) {
			return true
		}
	}
	return false
}
