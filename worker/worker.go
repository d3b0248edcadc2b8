package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/drover-dev/drover/internal/pull"
	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/mr"
)

// DefaultSlots is how many tasks a worker runs at once.
const DefaultSlots = 1

// pullExpiry bounds one wait for a task.
var pullExpiry = 5 * time.Second // a variable for tests

// pullHeartbeat is how often the server says that a pull still waits: a
// pull whose server restarted, or whose cluster node died, misses two
// and is made again at once, rather than at its expiry.
const pullHeartbeat = 500 * time.Millisecond

// Config describes a worker. Zero fields take their defaults.
type Config struct {
	// ID names the worker in events and commits (default host-pid-random).
	ID string
	// Slots is how many tasks run at once (default DefaultSlots); it may
	// not be negative.
	Slots int
	// Apps are the apps the worker can run. Required.
	Apps *mr.Registry
	// AllowExec takes the tasks of apps that run commands (see
	// mr.RunsCommands) as well as the others: they come from a consumer
	// of their own, mr.ConsumerExecWorkers, which only such workers pull
	// from. Apps must let them run (apps.Registry(true)). The registry
	// says so, and the master holds a job that runs commands while no
	// worker does.
	AllowExec bool
	// Clock reads the master's time, to judge task deadlines (default
	// time.Now; a timesvc.Clock's Now in a real deployment).
	Clock func() time.Time
	// Logger receives the worker's events (default slog.Default).
	Logger *slog.Logger
	// SlowFactor, above 1, makes each task take that many times as long:
	// a straggler, for tests and benchmarks of backup tasks.
	SlowFactor float64
	// SharedRoots are the directories whose files the worker reads as
	// path inputs (mr.Input.Path, a job submitted with --shared). A path
	// input that is not a regular file under one of them, symlinks
	// resolved, or is not of its declared size, fails its task. Each must
	// be an existing directory. None by default: no path input is read.
	// New keeps its own copy.
	SharedRoots []string
	// SortBuffer is the bytes of map output a task holds in memory
	// before it spills a sorted run to disk (default
	// mr.DefaultSortBuffer; mr.MinSortBuffer to mr.MaxSortBuffer).
	SortBuffer int64
	// Version is the worker's version line, for the registry (default
	// none).
	Version string
	// Metrics, if not nil, counts the worker's slots and attempts.
	Metrics *metrics.Worker
	// TempDir is where tasks keep their spills, a map its copy of an
	// uploaded input (unlinked at once) and a reduce its copies of the
	// map outputs (default os.TempDir()), in a directory of the worker's
	// own that Run removes as it returns; a worker that starts removes
	// those of workers killed before they could. It must be an existing
	// directory.
	TempDir string
}

// Worker pulls tasks from the work queue, one per slot, runs them and
// commits their output.
type Worker struct {
	store *mr.Store
	cfg   Config
	roots []sharedRoot
	held  heldRoots // open handles on roots, for openQuick
	log   *slog.Logger
	bus   *bus // set by Run, before its slots start
	// scratch is where tasks keep what they put on disk, under
	// Config.TempDir; set by Run, before its slots start.
	scratch *scratch

	mu      sync.Mutex          // guards running
	running map[int]mr.SlotTask // by slot: what the registry shows
	started atomic.Int64        // Unix nanoseconds in the master's clock, set by Run
}

// New returns a worker on store's resources. A config it cannot run
// with is an error wrapping ErrInvalidConfig that names the field.
func New(store *mr.Store, cfg Config) (*Worker, error) {
	switch {
	case cfg.Apps == nil:
		return nil, fmt.Errorf("%w: Apps is required", ErrInvalidConfig)
	case cfg.Slots < 0:
		return nil, fmt.Errorf("%w: Slots %d is negative", ErrInvalidConfig, cfg.Slots)
	case cfg.SlowFactor < 0 || math.IsNaN(cfg.SlowFactor):
		return nil, fmt.Errorf("%w: SlowFactor %g: want 0 or more", ErrInvalidConfig, cfg.SlowFactor)
	case cfg.ID != "" && !mr.ValidWorkerID(cfg.ID):
		return nil, fmt.Errorf("%w: ID %.80q: want at most %d ASCII letters, digits, '-' and '_'", ErrInvalidConfig, cfg.ID, mr.MaxWorkerIDLen)
	case cfg.SortBuffer != 0 && (cfg.SortBuffer < mr.MinSortBuffer || cfg.SortBuffer > mr.MaxSortBuffer):
		return nil, fmt.Errorf("%w: SortBuffer %d: want %d to %d bytes", ErrInvalidConfig, cfg.SortBuffer, mr.MinSortBuffer, mr.MaxSortBuffer)
	}
	if cfg.TempDir != "" {
		if st, err := os.Stat(cfg.TempDir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%w: TempDir %q: want an existing directory", ErrInvalidConfig, cfg.TempDir)
		}
	}
	roots, err := resolveRoots(cfg.SharedRoots)
	if err != nil {
		return nil, err
	}
	cfg.SharedRoots = slices.Clone(cfg.SharedRoots)
	cfg.Slots = cmp.Or(cfg.Slots, DefaultSlots)
	if cfg.ID == "" {
		cfg.ID = defaultID()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cmp.Or(cfg.Logger, slog.Default()).With("worker", cfg.ID)
	return &Worker{store: store, cfg: cfg, roots: roots, log: log, running: map[int]mr.SlotTask{}}, nil
}

// defaultID is host-pid-random, with the host name's characters that no
// ID may hold (its dots, say) replaced and its length cut to fit.
func defaultID() string {
	host, _ := os.Hostname()
	host = strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf && (r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) {
			return r
		}
		return '-'
	}, cmp.Or(host, "worker"))
	suffix := "-" + strconv.Itoa(os.Getpid()) + "-" + nuid.Next()[:6]
	return host[:min(len(host), mr.MaxWorkerIDLen-len(suffix))] + suffix
}

// ID is the worker's ID.
func (w *Worker) ID() string { return w.cfg.ID }

// Run runs the slots until ctx ends; each finishes its task first, or
// hands it back when ctx ends in the middle (JetStream redelivers it).
//
// While it runs, the worker keeps its entry in the worker registry
// (mr.WorkerInfo, put every mr.WorkerReportEvery and deleted when Run
// returns; a killed worker's vanishes mr.WorkerTTL after its last put),
// and is subscribed to its mr.WorkerSubject: the
// server drops the subscription the moment the worker's connection
// closes, a killed process's included, and a master that then finds
// nobody there hands the worker's tasks to others at once, instead of
// after the lease.
func (w *Worker) Run(ctx context.Context) error {
	alive, err := w.store.JS.Conn().Subscribe(mr.WorkerSubject(w.cfg.ID), func(*nats.Msg) {})
	if err != nil {
		return fmt.Errorf("worker: subscribe %s: %w", mr.WorkerSubject(w.cfg.ID), err)
	}
	defer alive.Unsubscribe()
	if w.scratch, err = openScratch(cmp.Or(w.cfg.TempDir, os.TempDir()), w.log); err != nil {
		return err
	}
	defer w.scratch.close()
	defer w.held.close()
	var stopWatch func()
	w.bus, stopWatch = watchBus(w.store.JS.Conn())
	defer stopWatch()
	w.started.Store(w.cfg.Clock().UnixNano())
	w.cfg.Metrics.Slots(w.cfg.Slots)
	var wg sync.WaitGroup
	for n := range w.cfg.Slots {
		wg.Go(func() { w.slot(ctx, n) })
	}
	announcing := make(chan struct{})
	go func() {
		defer close(announcing)
		w.announce(ctx)
	}()
	wg.Wait()
	<-announcing
	return nil
}

// slot pulls one task at a time: no prefetch, so that a task waits in the
// queue, where any worker can take it, rather than behind this one.
func (w *Worker) slot(ctx context.Context, n int) {
	pullers := []*pull.Puller{pull.New(w.store.JS, w.store.Workers)}
	if w.cfg.AllowExec {
		pullers = append(pullers, pull.New(w.store.JS, w.store.ExecWorkers))
	}
	defer func() {
		for _, p := range pullers {
			p.Close()
		}
	}()
	pullAhead := ahead(pullers)
	failing := false // since the last pull that did not fail
	for ctx.Err() == nil {
		msg, err := next(ctx, pullers)
		switch {
		case err == nil:
			failing = false
			w.handle(ctx, n, msg, pullAhead)
		case ctx.Err() != nil || emptyPull(err):
			failing = false
		case errors.Is(err, jetstream.ErrNoHeartbeat):
			// The pull's server went away: pull again at once.
		default:
			if !failing {
				w.log.Warn("worker: pull", "error", err)
			}
			failing = true
			select { // the broker may be restarting
			case <-ctx.Done():
			case <-time.After(pullRetry):
			}
		}
	}
}

// next waits for one task from any of pullers' consumers, with one pull
// on each. Pull requests expire, and the server's heartbeats show that one
// still waits: one a restarted broker forgot is made again within two
// missed heartbeats. The first pull to end ends the others; a task that a
// second pull delivered before its end reached the server goes back to
// the queue at once. Without a task, the error is the first pull's.
func next(ctx context.Context, pullers []*pull.Puller) (jetstream.Msg, error) {
	pullCtx, cancel := context.WithTimeout(ctx, pullExpiry)
	defer cancel()
	heartbeat := pullHeartbeatOf()
	if len(pullers) == 1 {
		return pullers[0].Pull(pullCtx, heartbeat)
	}
	type result struct {
		msg jetstream.Msg
		err error
	}
	results := make(chan result, len(pullers))
	for _, p := range pullers {
		go func() {
			msg, err := p.Pull(pullCtx, heartbeat)
			results <- result{msg, err}
		}()
	}
	var msg jetstream.Msg
	var err error
	for i := range pullers {
		r := <-results
		cancel()
		switch {
		case r.err != nil:
			if i == 0 {
				err = r.err
			}
		case msg == nil:
			msg = r.msg
		default:
			r.msg.Nak()
		}
	}
	if msg != nil {
		return msg, nil
	}
	return nil, err
}

// ahead returns what pulls a slot's next task ahead, while its task
// commits: with one consumer to pull from, its next pull. A slot that
// pulls from two consumers pulls when it is free, as the first task to
// come ends the other pull and the other consumer's task, handed back,
// would count a delivery.
func ahead(pullers []*pull.Puller) func() {
	if len(pullers) != 1 {
		return func() {}
	}
	return func() { pullers[0].Ahead(pull.ServerExpiry(pullExpiry), pullHeartbeatOf()) }
}

// pullHeartbeatOf is the heartbeat of a slot's pulls: pullHeartbeat, or
// less for a short pullExpiry (in tests).
func pullHeartbeatOf() time.Duration { return min(pullHeartbeat, pullExpiry/4) }

// pullRetry is how soon a slot pulls again after a pull failed.
const pullRetry = 250 * time.Millisecond

// emptyPull reports whether a pull's error only says that no task came
// before the pull expired: an idle worker's normal state, not a fault.
// Next reports it as nats.ErrTimeout when the broker ends the request,
// and as the context's deadline when the client gives up first.
func emptyPull(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded)
}
