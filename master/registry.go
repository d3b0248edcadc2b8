package master

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
)

// registry is what the master knows of the worker registry: each
// worker's last entry and when it came. It is safe for concurrent use.
type registry struct {
	mu    sync.Mutex
	known bool      // every entry stored when the follow began has come
	began time.Time // when the follow began
	seen  map[string]seenWorker
}

// seenWorker is a worker's entry and when the master received it: the
// bucket removes an entry past its age without a word, so the master
// judges age by its own clock.
type seenWorker struct {
	info mr.WorkerInfo
	at   time.Time
}

// live are the workers whose last entry came within mr.WorkerTTL of now;
// ok is false while the master does not know the registry (its follow
// has not caught up), and then it holds no job.
func (r *registry) live(now time.Time) (workers []mr.WorkerInfo, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.seen {
		if now.Sub(s.at) < mr.WorkerTTL {
			workers = append(workers, s.info)
		}
	}
	// A follow that has heard nothing for an entry's age knows enough:
	// the entries it was to catch up on have expired.
	return workers, r.known || !r.began.IsZero() && now.Sub(r.began) >= mr.WorkerTTL
}

// put notes one message of the registry's stream, received at now: a
// worker's entry, or its deletion. An entry that fails its checks is the
// same as none. It reports whether the entry is of a worker not live
// before.
func (r *registry) put(subject string, deleted bool, data []byte, now time.Time) (arrived bool) {
	key, ok := strings.CutPrefix(subject, strings.TrimSuffix(mr.BucketSubjects(mr.BucketWorkers), ">"))
	if !ok {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	// Entries past their age are dropped here too, so that the map stays
	// in proportion to the live workers.
	for id, s := range r.seen {
		if now.Sub(s.at) >= mr.WorkerTTL {
			delete(r.seen, id)
		}
	}
	info, err := mr.DecodeWorkerInfo(key, data)
	if deleted || err != nil {
		delete(r.seen, key)
		return false
	}
	_, known := r.seen[key]
	if len(r.seen) < mr.MaxWorkers {
		r.seen[key] = seenWorker{info: info, at: now}
	}
	return !known
}

func (r *registry) caughtUp() {
	r.mu.Lock()
	r.known = true
	r.mu.Unlock()
}

// followRegistry keeps m.workers up to date with the worker registry
// until stop is called: the last entry of each worker there, then each
// new one.
func (m *Master) followRegistry(ctx context.Context) (stop func(), err error) {
	status, err := m.store.Registry.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("master: worker registry: %w", err)
	}
	m.workers.mu.Lock()
	m.workers.began = time.Now()
	m.workers.mu.Unlock()
	if status.Values() == 0 {
		m.workers.caughtUp()
	}
	return m.follow(ctx, mr.BucketStream(mr.BucketWorkers), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{mr.BucketSubjects(mr.BucketWorkers)},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	}, func(msg jetstream.Msg) {
		if m.workers.put(msg.Subject(), msg.Headers().Get(kvOperation) != "", msg.Data(), time.Now()) {
			select { // a held job may run now: the master's loop looks at once
			case m.workerArrived <- struct{}{}:
			default:
			}
		}
		if meta, err := msg.Metadata(); err == nil && meta.NumPending == 0 {
			m.workers.caughtUp()
		}
	})
}
