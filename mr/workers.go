package mr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// The worker registry: every live worker keeps its WorkerInfo in
// BucketWorkers, under WorkerKey(ID), and puts it again every
// WorkerReportEvery. The bucket keeps a value WorkerTTL, so that the
// entry of a worker that died, with nobody left to delete it, vanishes
// by itself.
const (
	// WorkerReportEvery is how often a worker puts its entry again.
	WorkerReportEvery = time.Second
	// WorkerTTL is how long an entry outlives its worker's last report:
	// a few reports, so that a broker slow for a moment does not make a
	// live worker vanish.
	WorkerTTL = 5 * time.Second
)

// Bounds of a registry entry. Anyone who may write the registry may
// write anything there, so readers check every field (DecodeWorkerInfo).
const (
	// MaxWorkerInfoBytes is the most bytes of one entry, and the bucket's
	// MaxValueSize.
	MaxWorkerInfoBytes = 64 << 10
	// MaxWorkerSlots is the most slots an entry may announce.
	MaxWorkerSlots = 1024
	// MaxWorkerApps is the most apps an entry may list.
	MaxWorkerApps = 256
	// MaxHostLen is the most bytes of a host name.
	MaxHostLen = 255
	// MaxVersionLen is the most bytes of a version line.
	MaxVersionLen = 200
	// MaxWorkers is the most entries ListWorkers reads.
	MaxWorkers = 10_000
)

// WorkerInfo is a worker's registry entry: what it is, what it can run,
// and what it runs.
type WorkerInfo struct {
	ID      string `json:"id"`      // a ValidWorkerID, and the entry's key
	Host    string `json:"host"`    // the machine's name
	PID     int    `json:"pid"`     // the process's ID on Host
	Version string `json:"version"` // the binary's version line
	Slots   int    `json:"slots"`   // tasks it runs at once
	// Apps are the apps it can run, sorted.
	Apps []string `json:"apps"`
	// Exec says it runs the commands of apps that run commands
	// (RunsCommands): it was started with --allow-exec.
	Exec bool `json:"exec"`
	// Running are the tasks its slots run, one each at most, by slot.
	Running []SlotTask `json:"running,omitempty"`
	// Started is when the worker started, Unix nanoseconds in the master's
	// clock.
	Started int64 `json:"started"`
	// Seen is when the entry was last put, as the broker stamped it: set
	// by ListWorkers and DecodeWorkerInfo's caller, never read from the
	// value.
	Seen time.Time `json:"-"`
}

// SlotTask is the attempt a worker's slot runs.
type SlotTask struct {
	Slot    int    `json:"slot"`
	Job     string `json:"job"`
	Phase   Phase  `json:"phase"`
	Index   int    `json:"index"`
	Attempt int    `json:"attempt"`
	// Since is when the slot took it, Unix nanoseconds in the master's
	// clock.
	Since int64 `json:"since"`
}

// Busy is how many of the worker's slots run a task.
func (w *WorkerInfo) Busy() int { return len(w.Running) }

// CanRun reports whether the worker can run a job of app, which runs
// commands if exec: it has the app, and for exec it allows commands.
func (w *WorkerInfo) CanRun(app string, exec bool) bool {
	return slices.Contains(w.Apps, app) && (w.Exec || !exec)
}

// DecodeWorkerInfo decodes and checks a registry entry stored under key:
// an entry past any bound, whose ID is not its key, or that does not
// decode, is an error wrapping ErrInvalidWorkerInfo.
func DecodeWorkerInfo(key string, data []byte) (WorkerInfo, error) {
	if len(data) > MaxWorkerInfoBytes {
		return WorkerInfo{}, workerErrorf("entry", "is %d bytes: want at most %d", len(data), MaxWorkerInfoBytes)
	}
	var w WorkerInfo
	if err := json.Unmarshal(data, &w); err != nil {
		return WorkerInfo{}, fmt.Errorf("%w: %v", ErrInvalidWorkerInfo, err)
	}
	if w.ID != key {
		return WorkerInfo{}, workerErrorf("id", "%.80q is not its key %.80q", w.ID, key)
	}
	if err := w.Validate(); err != nil {
		return WorkerInfo{}, err
	}
	return w, nil
}

// Validate checks an entry against its bounds: what a worker puts always
// passes.
func (w *WorkerInfo) Validate() error {
	switch {
	case !ValidWorkerID(w.ID):
		return workerErrorf("id", "%.80q: want 1 to %d ASCII letters, digits, '-' and '_'", w.ID, MaxWorkerIDLen)
	case len(w.Host) > MaxHostLen || !printable(w.Host):
		return workerErrorf("host", "%.80q: want at most %d bytes of printable UTF-8", w.Host, MaxHostLen)
	case w.PID < 0 || w.PID > 1<<31-1:
		return workerErrorf("pid", "is %d: want 0 to %d", w.PID, 1<<31-1)
	case len(w.Version) > MaxVersionLen || !printable(w.Version):
		return workerErrorf("version", "%.80q: want at most %d bytes of printable UTF-8", w.Version, MaxVersionLen)
	case w.Slots < 1 || w.Slots > MaxWorkerSlots:
		return workerErrorf("slots", "is %d: want 1 to %d", w.Slots, MaxWorkerSlots)
	case len(w.Apps) > MaxWorkerApps:
		return workerErrorf("apps", "are %d: want at most %d", len(w.Apps), MaxWorkerApps)
	case len(w.Running) > w.Slots:
		return workerErrorf("running", "are %d tasks: want at most its %d slots", len(w.Running), w.Slots)
	case w.Started < 0:
		return workerErrorf("started", "is %d: want 0 or more", w.Started)
	}
	for i, app := range w.Apps {
		if err := checkAppName(fmt.Sprintf("apps[%d]", i), app, workerErrorf); err != nil {
			return err
		}
	}
	slots := make(map[int]bool, len(w.Running))
	for i, t := range w.Running {
		field := fmt.Sprintf("running[%d]", i)
		switch {
		case t.Slot < 0 || t.Slot >= w.Slots || slots[t.Slot]:
			return workerErrorf(field+".slot", "is %d: want one of 0 to %d, once", t.Slot, w.Slots-1)
		case t.Job == "" || len(t.Job) > MaxJobIDLen || !validToken(t.Job):
			return workerErrorf(field+".job", "%.80q: want 1 to %d ASCII letters, digits, '-' and '_'", t.Job, MaxJobIDLen)
		case t.Phase != PhaseMap && t.Phase != PhaseReduce:
			return workerErrorf(field+".phase", "%.20q: want %s or %s", t.Phase, PhaseMap, PhaseReduce)
		case t.Index < 0 || t.Index >= MaxMapTasks:
			return workerErrorf(field+".index", "is %d: want 0 to %d", t.Index, MaxMapTasks-1)
		case t.Attempt < 0 || t.Attempt > MaxTaskAttempt:
			return workerErrorf(field+".attempt", "is %d: want 0 to %d", t.Attempt, MaxTaskAttempt)
		case t.Since < 0:
			return workerErrorf(field+".since", "is %d: want 0 or more", t.Since)
		}
		slots[t.Slot] = true
	}
	return nil
}

// workerErrorf is a SpecError of a registry entry.
func workerErrorf(field, format string, args ...any) error {
	return &SpecError{Field: field, Problem: fmt.Sprintf(format, args...), err: ErrInvalidWorkerInfo}
}

// ListWorkers reads the registry: every live worker's entry, sorted by
// ID, at most MaxWorkers. An entry that fails DecodeWorkerInfo is left
// out and counted in skipped. It needs only the right to read the bucket
// (see package auth's readers).
func ListWorkers(ctx context.Context, registry jetstream.KeyValue) (workers []WorkerInfo, skipped int, err error) {
	watch, err := registry.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, 0, fmt.Errorf("mr: worker registry: %w", err)
	}
	defer watch.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("mr: worker registry: %w", ctx.Err())
		case e, ok := <-watch.Updates():
			if !ok {
				return nil, 0, errors.New("mr: worker registry: watch ended")
			}
			if e == nil { // every value there is, delivered
				slices.SortFunc(workers, func(a, b WorkerInfo) int { return strings.Compare(a.ID, b.ID) })
				return workers, skipped, nil
			}
			w, err := DecodeWorkerInfo(e.Key(), e.Value())
			if err != nil || len(workers) >= MaxWorkers {
				skipped++
				continue
			}
			w.Seen = e.Created()
			workers = append(workers, w)
		}
	}
}

// PutWorkerInfo checks w and puts it in the registry under its key: a
// worker's report. A worker that stops cleanly deletes its key
// (registry.Delete) so that it vanishes at once, not WorkerTTL later.
func PutWorkerInfo(ctx context.Context, registry jetstream.KeyValue, w WorkerInfo) error {
	if err := w.Validate(); err != nil {
		return err
	}
	data, err := json.Marshal(w)
	if err != nil {
		return fmt.Errorf("mr: worker registry: %w", err)
	}
	if _, err := registry.Put(ctx, WorkerKey(w.ID), data); err != nil {
		return fmt.Errorf("mr: worker registry: put %s: %w", w.ID, err)
	}
	return nil
}
