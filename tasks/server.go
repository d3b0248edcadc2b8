package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/drover-dev/drover/internal/pull"
)

// Defaults of a Server.
const (
	// DefaultConcurrency is how many tasks of DefaultQueue a server with
	// no Queues runs at once.
	DefaultConcurrency = 10
	// DefaultLease is how long a task stays with a worker that stops
	// heartbeating before it runs elsewhere; a running task heartbeats
	// every third of it.
	DefaultLease = 30 * time.Second
	// DefaultBackoffBase is the first retry's delay, before jitter.
	DefaultBackoffBase = time.Second
	// DefaultBackoffMax caps every retry's delay.
	DefaultBackoffMax = 10 * time.Minute
)

// pullExpiry bounds one wait for a task, so that a pull request a
// restarted broker forgot is soon replaced.
var pullExpiry = 5 * time.Second // a variable for tests

// Config describes a server. Zero fields take their defaults.
type Config struct {
	// Queues maps each queue the server takes tasks from to how many of
	// its tasks run at once (default DefaultQueue with
	// DefaultConcurrency). Each queue has its own slots, so a queue's
	// share of the server is its concurrency: weight a queue by giving it
	// more, and a busy queue never starves another. New keeps its own
	// copy.
	Queues map[string]int
	// StrictPriority orders some of Queues, highest first: those queues
	// share their slots (as many as their concurrencies add up to), and a
	// free slot takes its next task from the first of them that has one
	// ready, so a lower queue's task never starts while a higher one's
	// waits. The other queues keep their own slots. A task of these
	// queues handed back to wait for its schedule or backoff starts up to
	// 100 ms after its time, when the queues are idle. New keeps its own
	// copy.
	StrictPriority []string
	// Lease is the queues' consumers' AckWait (default DefaultLease).
	// Every server of a queue should use the same: the last one started
	// sets it.
	Lease time.Duration
	// Backoff is the schedule of retries (default DefaultBackoffBase
	// doubling up to DefaultBackoffMax).
	Backoff Backoff
	// ID names the server in task records (default host-pid-random).
	ID string
	// Clock judges schedules and deadlines (default time.Now; a
	// timesvc.Clock's Now in a deployment of several machines).
	Clock func() time.Time
	// SweepEvery is how often the server looks for tasks of its queues
	// whose message was never published, because their producer died
	// between its two writes (default DefaultSweepEvery); negative turns
	// the sweep off.
	SweepEvery time.Duration
	// SweepGrace is how long such a task must have waited before it is
	// republished (default DefaultSweepGrace).
	SweepGrace time.Duration
	// Store says how missing streams and buckets are created.
	Store StoreConfig
	// Logger receives the server's events (default slog.Default).
	Logger *slog.Logger
}

// Handler runs a task. Its context ends when the attempt's Timeout or the
// task's Deadline passes, when the task is cancelled or deleted, and when
// the server stops. A nil error means done, with result (nil for none)
// kept in the task's record, encoded with the payload's codec, of at
// most MaxResultSize bytes. An error fails the attempt: the task is
// retried after a backoff, or archived once its retries are used up or if
// the error wraps ErrSkipRetry. A panic is an error.
type Handler func(ctx context.Context, t *TaskInfo) (result any, err error)

// Server runs the tasks of its queues with the handlers registered by
// their types. Register every handler with Handle before Run.
type Server struct {
	js  jetstream.JetStream
	cfg Config
	log *slog.Logger

	mu       sync.Mutex
	handlers map[string]Handler
	running  map[string]*attempt // by task ID
}

// NewServer returns a server of the task queue on js. A config it cannot
// run with is an error wrapping ErrInvalidConfig that names the field.
func NewServer(js jetstream.JetStream, cfg Config) (*Server, error) {
	for q, n := range cfg.Queues {
		if !validName(q, MaxQueueLen) {
			return nil, fmt.Errorf("%w: Queues: name %.80q", ErrInvalidConfig, q)
		}
		if n < 1 {
			return nil, fmt.Errorf("%w: Queues: %s's concurrency %d: want 1 or more", ErrInvalidConfig, q, n)
		}
	}
	switch {
	case cfg.Lease < 0:
		return nil, fmt.Errorf("%w: Lease %v is negative", ErrInvalidConfig, cfg.Lease)
	case cfg.Lease > 0 && cfg.Lease < 3*time.Millisecond:
		return nil, fmt.Errorf("%w: Lease %v: want 3ms or more", ErrInvalidConfig, cfg.Lease)
	case cfg.SweepGrace < 0:
		return nil, fmt.Errorf("%w: SweepGrace %v is negative", ErrInvalidConfig, cfg.SweepGrace)
	case cfg.Backoff.Base < 0 || cfg.Backoff.Max < 0:
		return nil, fmt.Errorf("%w: Backoff %+v is negative", ErrInvalidConfig, cfg.Backoff)
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = map[string]int{DefaultQueue: DefaultConcurrency}
	}
	if err := validatePriority(cfg); err != nil {
		return nil, err
	}
	cfg.Queues = maps.Clone(cfg.Queues)
	cfg.StrictPriority = slices.Clone(cfg.StrictPriority)
	cfg.Lease = cmp.Or(cfg.Lease, DefaultLease)
	cfg.SweepEvery = cmp.Or(cfg.SweepEvery, DefaultSweepEvery)
	cfg.SweepGrace = cmp.Or(cfg.SweepGrace, DefaultSweepGrace)
	cfg.Backoff.Base = cmp.Or(cfg.Backoff.Base, DefaultBackoffBase)
	cfg.Backoff.Max = max(cmp.Or(cfg.Backoff.Max, DefaultBackoffMax), cfg.Backoff.Base)
	if cfg.ID == "" {
		host, _ := os.Hostname()
		cfg.ID = cmp.Or(host, "worker") + "-" + strconv.Itoa(os.Getpid()) + "-" + nuid.Next()[:6]
	}
	cfg.ID = truncate(cfg.ID, MaxTypeLen)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cmp.Or(cfg.Logger, slog.Default()).With("worker", cfg.ID)
	return &Server{js: js, cfg: cfg, log: log, handlers: map[string]Handler{}, running: map[string]*attempt{}}, nil
}

// ID is the server's ID, as task records name it.
func (s *Server) ID() string { return s.cfg.ID }

// Handle registers h for tasks of type typ, replacing any before it. It
// is safe to call concurrently with Run; a task of a type with no
// handler fails its attempt with ErrNoHandler.
func (s *Server) Handle(typ string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[typ] = h
}

func (s *Server) handler(typ string) Handler {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handlers[typ]
}

// Run opens the task queue, creating what is missing, and runs tasks
// until ctx ends. Then a running task's handler has its context
// cancelled, and the task is handed back to run again at once elsewhere,
// with no failure counted; Run returns once every slot has stopped,
// within pullExpiry (5 s) and a second.
func (s *Server) Run(ctx context.Context) error {
	st, err := openStore(ctx, s.js, s.cfg.Store)
	if err != nil {
		return err
	}
	consumers := map[string]jetstream.Consumer{}
	for _, q := range slices.Sorted(maps.Keys(s.cfg.Queues)) {
		c, err := st.queue.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable:       ConsumerName(q),
			FilterSubject: QueueSubjects(q),
			AckPolicy:     jetstream.AckExplicitPolicy,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			AckWait:       s.cfg.Lease,
			MaxAckPending: -1,
		})
		if err != nil {
			return fmt.Errorf("tasks: consumer of queue %s: %w", q, err)
		}
		consumers[q] = c
	}
	sub, err := s.js.Conn().Subscribe(CancelSubjects(), s.onCancel)
	if err != nil {
		return fmt.Errorf("tasks: subscribe to cancel notices: %w", err)
	}
	defer sub.Unsubscribe()
	var wg sync.WaitGroup
	if len(s.cfg.StrictPriority) > 0 {
		if err := s.runPriority(ctx, st, consumers, &wg); err != nil {
			return err
		}
	}
	if s.cfg.SweepEvery > 0 {
		wg.Go(func() { s.sweep(ctx, st) })
	}
	for q, c := range consumers {
		if slices.Contains(s.cfg.StrictPriority, q) {
			continue
		}
		for range s.cfg.Queues[q] {
			wg.Go(func() { s.slot(ctx, st, c) })
		}
	}
	wg.Wait()
	return nil
}

// slot takes one task at a time: no prefetch, so that a task waits in the
// queue, where any server can take it, rather than behind this one. Its
// next pull starts once the handler of its last task has returned, while
// that task's outcome is being recorded (see handle). Its pulls are made
// on an inbox it keeps (pull.Puller), so that a task comes from the
// connection's reader straight to the slot.
//
// A pull is never abandoned: one given up while the broker still holds
// it (a pull whose context ends) can be handed a message that nobody then
// reads, which waits out a whole lease. So each pull runs to its expiry
// even when ctx ends, which bounds a server's stop to pullExpiry and a
// second, and a message it brings after ctx ended is handed back at once.
func (s *Server) slot(ctx context.Context, st *store, c jetstream.Consumer) {
	var recorded <-chan struct{}
	defer func() { waitRecorded(recorded) }()
	p := pull.New(st.js, c)
	defer p.Close()
	for ctx.Err() == nil {
		msg, err := next(p)
		if err == nil && ctx.Err() != nil {
			msg.Nak()
			return
		}
		if err != nil {
			if ctx.Err() == nil && !emptyPull(err) {
				s.log.Warn("tasks: pull", "error", err)
				select { // the broker may be restarting
				case <-ctx.Done():
				case <-time.After(transientRetry):
				}
			}
			continue
		}
		recorded = s.handle(ctx, st, msg, recorded)
	}
}

// next waits for a slot's next task, for up to pullExpiry, with a pull
// that asks for no heartbeats: one a restarted broker forgot is replaced
// when it expires. Its context is its own, not the server's (see slot).
func next(p *pull.Puller) (jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), pullExpiry)
	defer cancel()
	return p.Pull(ctx, 0)
}

// waitRecorded waits until the outcome of a slot's last task is recorded;
// nil means there is none to wait for.
func waitRecorded(recorded <-chan struct{}) {
	if recorded != nil {
		<-recorded
	}
}

// emptyPull reports whether a pull's error only says that no task came
// before the pull expired: an idle server's normal state.
func emptyPull(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded)
}

// onCancel pokes the attempt of the task a cancel notice names, which
// then reads its record: a notice alone, which anybody may send, stops
// nothing.
func (s *Server) onCancel(m *nats.Msg) {
	id := m.Subject[strings.LastIndexByte(m.Subject, '.')+1:]
	s.mu.Lock()
	a := s.running[id]
	s.mu.Unlock()
	if a != nil {
		select {
		case a.poke <- struct{}{}:
		default:
		}
	}
}
