package tasks

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// priorityRecheck is how often an idle slot of strictly ordered queues
// looks at them again with nothing new published: a task handed back to
// wait for its schedule or its backoff comes back without a publish.
var priorityRecheck = 100 * time.Millisecond // a variable for tests

// validatePriority checks Config.StrictPriority against the queues.
func validatePriority(cfg Config) error {
	seen := map[string]bool{}
	for _, q := range cfg.StrictPriority {
		if _, ok := cfg.Queues[q]; !ok {
			return fmt.Errorf("%w: StrictPriority: queue %.80q is not in Queues", ErrInvalidConfig, q)
		}
		if seen[q] {
			return fmt.Errorf("%w: StrictPriority: queue %s twice", ErrInvalidConfig, q)
		}
		seen[q] = true
	}
	return nil
}

// wake tells idle slots that a task was published: a channel closed on
// each publish and replaced.
type wake struct {
	mu sync.Mutex
	ch chan struct{}
}

func newWake() *wake { return &wake{ch: make(chan struct{})} }

// wait returns the channel the next fire closes.
func (w *wake) wait() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.ch
}

func (w *wake) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	close(w.ch)
	w.ch = make(chan struct{})
}

// runPriority runs the slots shared by the queues of StrictPriority,
// highest first: as many as their concurrencies add up to. A slot takes
// its next task from the first queue that has one ready, so that no
// task of a lower queue starts while a higher one has a task waiting.
// It looks without waiting (FetchNoWait), queue by queue; when none has
// one, it waits until a task is published to any of them, or for
// priorityRecheck.
func (s *Server) runPriority(ctx context.Context, st *store, consumers map[string]jetstream.Consumer, wg *sync.WaitGroup) error {
	w := newWake()
	ordered := make([]jetstream.Consumer, len(s.cfg.StrictPriority))
	slots := 0
	for i, q := range s.cfg.StrictPriority {
		ordered[i] = consumers[q]
		slots += s.cfg.Queues[q]
		sub, err := s.js.Conn().Subscribe(QueueSubjects(q), func(*nats.Msg) { w.fire() })
		if err != nil {
			return fmt.Errorf("tasks: subscribe to queue %s: %w", q, err)
		}
		context.AfterFunc(ctx, func() { sub.Unsubscribe() })
	}
	for range slots {
		wg.Go(func() { s.prioritySlot(ctx, st, ordered, w) })
	}
	return nil
}

func (s *Server) prioritySlot(ctx context.Context, st *store, ordered []jetstream.Consumer, w *wake) {
	var recorded <-chan struct{}
	defer func() { waitRecorded(recorded) }()
	for ctx.Err() == nil {
		woken := w.wait() // before looking: a publish meanwhile is not missed
		if msg := s.first(ordered); msg != nil {
			if ctx.Err() != nil {
				msg.Nak()
				return
			}
			recorded = s.handle(ctx, st, msg, recorded)
			continue
		}
		select {
		case <-ctx.Done():
		case <-woken:
		case <-time.After(priorityRecheck):
		}
	}
}

// first takes a ready message from the first of ordered that has one;
// nil if none has.
func (s *Server) first(ordered []jetstream.Consumer) jetstream.Msg {
	for _, c := range ordered {
		batch, err := c.FetchNoWait(1)
		if err != nil {
			s.log.Warn("tasks: pull", "error", err)
			continue
		}
		var msg jetstream.Msg
		for m := range batch.Messages() {
			msg = m
		}
		if err := batch.Error(); err != nil && !emptyPull(err) {
			s.log.Warn("tasks: pull", "error", err)
		}
		if msg != nil {
			return msg
		}
	}
	return nil
}
