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
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"github.com/drover-dev/drover/mr"
)

// DefaultSlots is how many tasks a worker runs at once.
const DefaultSlots = 1

// pullExpiry bounds one wait for a task.
var pullExpiry = 5 * time.Second // a variable for tests

// Config describes a worker. Zero fields take their defaults.
type Config struct {
	// ID names the worker in events and commits (default host-pid-random).
	ID string
	// Slots is how many tasks run at once (default DefaultSlots); it may
	// not be negative.
	Slots int
	// Apps are the apps the worker can run. Required.
	Apps *mr.Registry
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
	// TempDir is where tasks keep their spills, a map its copy of an
	// uploaded input (unlinked at once) and a reduce its copies of the
	// map outputs, each in a directory of its own removed when the task
	// ends (default os.TempDir()). It must be an existing directory.
	TempDir string
}

// Worker pulls tasks from the work queue, one per slot, runs them and
// commits their output.
type Worker struct {
	store *mr.Store
	cfg   Config
	roots []sharedRoot
	log   *slog.Logger
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
		host, _ := os.Hostname()
		cfg.ID = cmp.Or(host, "worker") + "-" + strconv.Itoa(os.Getpid()) + "-" + nuid.Next()[:6]
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cmp.Or(cfg.Logger, slog.Default()).With("worker", cfg.ID)
	return &Worker{store: store, cfg: cfg, roots: roots, log: log}, nil
}

// ID is the worker's ID.
func (w *Worker) ID() string { return w.cfg.ID }

// Run runs the slots until ctx ends; each finishes its task first, or
// hands it back when ctx ends in the middle (JetStream redelivers it).
func (w *Worker) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for range w.cfg.Slots {
		wg.Go(func() { w.slot(ctx) })
	}
	wg.Wait()
	return nil
}

// slot pulls one task at a time: no prefetch, so that a task waits in the
// queue, where any worker can take it, rather than behind this one.
func (w *Worker) slot(ctx context.Context) {
	for ctx.Err() == nil {
		// Pull requests expire, so that one a restarted broker forgot
		// is soon replaced by a new one.
		pullCtx, cancel := context.WithTimeout(ctx, pullExpiry)
		msg, err := w.store.Workers.Next(jetstream.FetchContext(pullCtx))
		cancel()
		if err != nil {
			if ctx.Err() == nil && !emptyPull(err) {
				w.log.Warn("worker: pull", "error", err)
				select { // the broker may be restarting
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
			continue
		}
		w.handle(ctx, msg)
	}
}

// emptyPull reports whether a pull's error only says that no task came
// before the pull expired: an idle worker's normal state, not a fault.
// Next reports it as nats.ErrTimeout when the broker ends the request,
// and as the context's deadline when the client gives up first.
func emptyPull(err error) bool {
	return errors.Is(err, nats.ErrTimeout) || errors.Is(err, jetstream.ErrNoMessages) || errors.Is(err, context.DeadlineExceeded)
}
