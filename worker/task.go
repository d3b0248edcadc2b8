package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/mr"
)

// ioTimeout bounds the JetStream calls made after a task, when the
// worker's own context may have ended.
const ioTimeout = 10 * time.Second

// maxDeliveries bounds how often one attempt is handed back for the bus's
// failures: an app that returns what looks like a bus error every time
// is failed at last, like any other.
const maxDeliveries = 10

// busFailed reports whether an attempt's err is the bus's and not the
// task's: NATS or JetStream out of reach for a moment (mr.Transient), a
// JetStream call that ran out of its own time, as one does when the
// broker restarts under it, or one ended because the connection was lost
// (errBusLost), while the attempt's deadline had not come and nothing
// else had stopped it; unless the attempt has been handed back
// maxDeliveries times already.
func (w *Worker) busFailed(err error, runCtx context.Context, msg jetstream.Msg) bool {
	if !mr.Retryable(runCtx, err) && !(errors.Is(err, context.Canceled) && runCtx.Err() == nil) {
		return false
	}
	meta, merr := msg.Metadata()
	return merr == nil && meta.NumDelivered < maxDeliveries
}

// unableRetry is how long a task this worker cannot run waits before it
// is delivered again, to another worker, it is hoped.
const unableRetry = 500 * time.Millisecond

// canRun reports whether the worker can run a task whose app New made
// as app, or failed to with err (its app is here, and runs commands only
// if the worker does: Config.AllowExec), and whether the task runs
// commands.
func (w *Worker) canRun(app mr.App, err error) (can, commands bool) {
	if errors.Is(err, mr.ErrUnknownApp) {
		return false, false
	}
	commands = err == nil && mr.RunsCommands(app)
	return !commands || w.cfg.AllowExec, commands
}

// handBack hands a task this worker cannot run back to the queue, for a
// worker that can, unless it has been handed out maxDeliveries times
// already: then it runs here, and fails saying why, as it would with no
// worker able to run it.
func handBack(msg jetstream.Msg) bool {
	meta, err := msg.Metadata()
	if err != nil || meta.NumDelivered >= maxDeliveries {
		return false
	}
	return msg.NakWithDelay(unableRetry) == nil
}

// taskLog is the logger of one task's messages, made when one is logged:
// most tasks log nothing, and a handler formats the attributes of a
// logger With makes at once.
func (w *Worker) taskLog(task mr.Task) *slog.Logger {
	return w.log.With("task", mr.MsgID(task.Job, task.Phase, task.Index, task.Attempt))
}

// transientRetry is how long a task handed back after a NATS error waits
// before it is delivered again.
const transientRetry = time.Second

// handle runs one task message to its end: committed, failed, skipped, or
// handed back because the worker is stopping.
func (w *Worker) handle(ctx context.Context, slot int, msg jetstream.Msg, pullAhead func()) {
	task, err := mr.DecodeTask(msg.Data())
	if err != nil { // no master sends it: never run, never retried
		w.log.Error("worker: invalid task dropped", "subject", msg.Subject(), "error", err)
		msg.TermWithReason("invalid task")
		return
	}
	key := mr.CommitKey(task.Job, task.Phase, task.Index)
	if w.committed(ctx, task, key, msg) {
		msg.Ack() // an earlier attempt, or a backup, committed it
		return
	}

	app, appErr := w.cfg.Apps.New(task.App, task.Args)
	can, commands := w.canRun(app, appErr)
	if !can && handBack(msg) {
		return
	}

	// The deadline is the master's: Timeout from now in its clock. Locally
	// it is the same span from now.
	now := w.cfg.Clock()
	deadline := now.Add(task.Timeout)
	defer w.occupy(slot, task, now)()
	outcome := metrics.OutcomeHandedBack
	defer func(end func(string)) { end(outcome) }(w.cfg.Metrics.Begin(string(task.Phase), task.App))
	runCtx, cancel := context.WithTimeout(ctx, task.Timeout)
	defer cancel()
	w.reportStarted(task, mr.Event{Kind: mr.EventStarted, Deadline: deadline.UnixNano(), Ack: msg.Reply()}, commands)
	done := &progress{slow: max(w.cfg.SlowFactor, 1)}
	var ended atomic.Value // why the attempt was stopped: beaten or withdrawn
	stop := w.heartbeat(runCtx, msg, task, done, func(why error) {
		ended.Store(why)
		cancel()
	})
	began := time.Now()
	commit, err := mr.Commit{}, appErr // a task whose app cannot be made fails
	if err == nil {
		commit, err = w.run(runCtx, task, app, done)
	}
	if err == nil && w.cfg.SlowFactor > 1 {
		err = w.dawdle(runCtx, time.Since(began), done)
	}
	stop()

	why, _ := ended.Load().(error)
	switch {
	case why != nil:
		// A backup (or the original) won, or the job ended: this
		// attempt's work is moot.
		w.remove(commit.Objects())
		msg.Ack()
		w.taskLog(task).Info("worker: attempt stopped", "why", why)
		outcome = metrics.OutcomeStopped
		return
	case ctx.Err() != nil:
		// Stopping: hand the task back at once rather than after a lease.
		w.remove(commit.Objects())
		msg.Nak()
		w.taskLog(task).Info("worker: task handed back")
		return
	case err != nil && w.busFailed(err, runCtx, msg):
		// The bus failed, not the task: run the attempt again once it
		// is back, without a failure counted against the task.
		w.remove(commit.Objects())
		msg.NakWithDelay(transientRetry)
		w.taskLog(task).Warn("worker: task handed back after a NATS error", "error", err)
		return
	case err != nil:
		w.remove(commit.Objects())
		ev := mr.Event{Kind: mr.EventFailed, Error: err.Error()}
		if lost := (*lostInput)(nil); errors.As(err, &lost) {
			// Not this task's fault: a map's output is gone. The master
			// recomputes that map, then runs this reduce again.
			ev = mr.Event{Kind: mr.EventInputLost, Map: lost.Map, MapAttempt: lost.Attempt, Error: err.Error()}
		}
		if bad := (*mr.RecordError)(nil); errors.As(err, &bad) && bad.Input != "" {
			ev.Record = &bad.Offset // the master counts failures per record
		}
		// The task leaves the queue only once the master can learn why:
		// a failure whose report is lost would leave the task nowhere.
		if rerr := w.report(task, ev); rerr != nil {
			msg.Nak()
			w.taskLog(task).Warn("worker: task failed; handed back, as its failure could not be reported", "error", err, "report", rerr)
			return
		}
		msg.TermWithReason(truncate(err.Error(), 256))
		w.taskLog(task).Warn("worker: task failed", "error", err)
		outcome = metrics.OutcomeFailed
		return
	}
	pullAhead()
	outcome = w.commit(task, key, commit, msg)
}

// committed reports whether the task has a commit already, which only an
// attempt that ran before can have made: the first delivery of the first
// attempt is run without asking, a round trip saved on most tasks. Should
// it race a commit all the same, the first commit wins and this attempt
// removes its output, as any loser does.
func (w *Worker) committed(ctx context.Context, task mr.Task, key string, msg jetstream.Msg) bool {
	if meta, err := msg.Metadata(); err == nil && meta.NumDelivered == 1 && task.Attempt == 1 {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	_, err := w.store.Commits.Get(ctx, key)
	return err == nil
}

// commit creates the task's commit record: the first attempt to commit
// wins, and a loser removes its output. It returns the attempt's outcome,
// as package metrics counts it.
func (w *Worker) commit(task mr.Task, key string, commit mr.Commit, msg jetstream.Msg) string {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	data, _ := json.Marshal(commit)
	_, err := w.store.Commits.Create(ctx, key, data)
	switch {
	case err == nil:
		// The commit stands whatever becomes of the ack, so the slot does
		// not wait for it: a redelivery, should the ack be lost, finds
		// the commit and is skipped.
		msg.Ack()
		w.index(ctx, task, commit)
		return metrics.OutcomeCommitted
	case errors.Is(err, jetstream.ErrKeyExists):
		w.remove(commit.Objects())
		msg.Ack()
		return metrics.OutcomeStopped
	default:
		// The store failed, not the task; but the create may have gone
		// through with its answer lost (a time-out in a leader
		// election), and then the record names this attempt's output.
		switch w.committedBy(key, commit) {
		case commitOurs:
			msg.Ack()
			w.index(ctx, task, commit)
			w.taskLog(task).Warn("worker: commit answered late; it stands", "error", err)
			return metrics.OutcomeCommitted
		case commitTheirs:
			w.remove(commit.Objects())
			msg.Ack()
			return metrics.OutcomeStopped
		}
		// Unknown: hand the attempt back to run again, without
		// counting a failure against it, and keep its output, which a
		// record may name: a leftover is removed with its job.
		msg.Nak()
		w.taskLog(task).Warn("worker: commit failed; task handed back", "error", err)
		return metrics.OutcomeHandedBack
	}
}

// Whose commit record a task has, as committedBy finds it.
const (
	commitUnknown = iota // none found, or it could not be read
	commitOurs           // this attempt's
	commitTheirs         // another attempt's
)

// committedBy reads the task's commit record after a create whose answer
// was an error, and says whose it is. A record not found may be a
// replica's that is behind, or a create still on its way: unknown.
func (w *Worker) committedBy(key string, commit mr.Commit) int {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		entry, err := w.store.Commits.Get(ctx, key)
		if err == nil {
			var c mr.Commit
			if json.Unmarshal(entry.Value(), &c) == nil && c.Attempt == commit.Attempt && c.Worker == commit.Worker && c.At == commit.At {
				return commitOurs
			}
			return commitTheirs
		}
		select {
		case <-ctx.Done():
			return commitUnknown
		case <-time.After(wait):
		}
	}
}

// index records a committed map output under its lineage key, for later
// jobs to reuse. Without the entry the output is only not reused, and the
// master's collection removes it with its job's other outputs.
func (w *Worker) index(ctx context.Context, task mr.Task, commit mr.Commit) {
	if commit.Lineage == "" || commit.Map == nil {
		return
	}
	app, err := w.cfg.Apps.New(task.App, task.Args)
	if err != nil {
		return
	}
	lineage, _ := mr.MapLineage(task.Input, task.Split, app, task.Args, task.R)
	entry, _ := json.Marshal(mr.LineageEntry{Lineage: lineage, Job: commit.Job, Index: commit.Index, Attempt: commit.Attempt,
		Outputs: *commit.Map, Counters: commit.Counters, Used: commit.At})
	if _, err := w.store.Lineage.Put(ctx, commit.Lineage, entry); err != nil {
		w.taskLog(task).Warn("worker: lineage not recorded; the output will not be reused", "error", err)
	}
}

// run computes the task's output and writes it under names of its own.
func (w *Worker) run(ctx context.Context, task mr.Task, app mr.App, done *progress) (mr.Commit, error) {
	commit := mr.Commit{Job: task.Job, Phase: task.Phase, Index: task.Index, Attempt: task.Attempt, Worker: w.cfg.ID}
	var err error
	info := mr.TaskInfo{Job: task.Job, Phase: task.Phase, Index: task.Index, Attempt: task.Attempt, Worker: w.cfg.ID, Partition: task.Index}
	if task.Input != nil {
		info.Input = task.Input.Name
	}
	ctx = mr.WithTaskInfo(ctx, info)
	execution := mr.Execution(task.Attempt)
	switch task.Phase {
	case mr.PhaseMap:
		err = w.runMap(ctx, app, task, execution, &commit, done)
	case mr.PhaseReduce:
		err = w.runReduce(ctx, app, task, execution, &commit, done)
	default:
		err = fmt.Errorf("unknown phase %q", task.Phase)
	}
	commit.At = time.Now().UnixNano()
	return commit, err
}

func (w *Worker) runMap(ctx context.Context, app mr.App, task mr.Task, execution string, commit *mr.Commit, done *progress) error {
	if task.Input == nil {
		return errors.New("map task without an input")
	}
	in, size, err := w.open(ctx, task.Input)
	if err != nil {
		return err
	}
	if c, ok := in.(io.Closer); ok {
		defer c.Close()
	}
	span := float64(max(task.Split.End-task.Split.Start, 1))
	skip := &skipper{offsets: task.Skip}
	recs := skip.records(task.Input.Records(in, size, task.Split))
	out, counters, err := mr.RunMapTo(ctx, app, recs, task.R, mr.MapConfig{SortBuffer: w.cfg.SortBuffer, SpillDir: w.scratch.dir}, func(c mr.Counters) {
		done.set(float64(c.MapInputBytes+skip.bytes) / span)
	})
	// Skipped records were read, not mapped.
	counters.MapSkippedRecords, counters.MapInputBytes = int64(len(skip.skipped)), counters.MapInputBytes+skip.bytes
	commit.Counters, commit.Skipped = counters, skip.skipped
	if err != nil {
		return err
	}
	defer out.Close()
	// An attempt that skipped records wrote less than its lineage says.
	if l, ok := mr.MapLineage(task.Input, task.Split, app, task.Args, task.R); ok && len(commit.Skipped) == 0 {
		commit.Lineage = l.Key()
	}
	outputs := mr.NewMapOutputs(task.Job, task.Index, execution, task.R)
	commit.Map = &outputs
	for r := range task.R {
		if out.Size(r) == 0 {
			continue // an empty partition needs no object
		}
		outputs.Set(r) // first, so that a failed put is cleaned up too
		name := outputs.Object(r)
		pctx, stop := w.bus.context(ctx)
		_, err := w.store.Data.Put(pctx, jetstream.ObjectMeta{Name: name}, out.Partition(r))
		stop()
		if err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}
	return nil
}

func (w *Worker) runReduce(ctx context.Context, app mr.App, task mr.Task, execution string, commit *mr.Commit, done *progress) error {
	// Each map output is copied to a local file, a few at a time, and the
	// files are merged: the reduce holds a few consumers on the object
	// store and a bounded merge in memory, however many maps there are.
	dir, err := os.MkdirTemp(w.scratch.dir, "reduce-*")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	// Reads bound each JetStream call rather than the whole attempt, so
	// that one lost to a broker restart fails in seconds.
	rctx, stopReads := w.bus.context(ctx)
	runs, err := w.fetchRuns(rctx, task, dir, func(f float64) { done.set(f / 2) })
	stopReads()
	if err != nil {
		return err
	}
	done.set(0.5)
	// The output streams into its object as it is made: neither the
	// partition nor the output is held in memory.
	name := mr.ReduceOutputObject(task.Job, task.Index, execution)
	commit.Outputs = []string{name}
	pr, pw := io.Pipe()
	stored := make(chan error, 1)
	pctx, stop := w.bus.context(ctx)
	defer stop()
	go func() {
		info, err := w.store.Data.Put(pctx, jetstream.ObjectMeta{Name: name}, pr)
		pr.CloseWithError(err) // unblocks the reduce if the store failed
		if err == nil {
			commit.Digests = []string{info.Digest}
		}
		stored <- err
	}()
	counters, err := mr.RunReduceFiles(ctx, app, runs.paths, w.scratch.dir, pw, func(read int64) {
		done.set(0.5 + 0.5*float64(read)/float64(max(runs.bytes, 1)))
	})
	pw.CloseWithError(err) // a failed reduce aborts the put: no partial object
	commit.Counters = counters
	if lost := (*mr.RunError)(nil); errors.As(err, &lost) && lost.Run < len(runs.commits) {
		err = lose(runs.commits[lost.Run], lost.Err)
	}
	if serr := <-stored; err == nil && serr != nil {
		err = fmt.Errorf("write %s: %w", name, serr)
	}
	return err
}

// lostInput is a committed map output a reduce could not read.
type lostInput struct {
	Map     int
	Attempt *int // of the commit that named the output; nil if there was none
	Err     error
}

func lose(c mr.Commit, err error) *lostInput {
	return &lostInput{Map: c.Index, Attempt: &c.Attempt, Err: err}
}

func (e *lostInput) Error() string { return fmt.Sprintf("map %d's output: %v", e.Map, e.Err) }
func (e *lostInput) Unwrap() error { return e.Err }

// dawdle waits (SlowFactor-1) times took, as a slow machine would have
// taken longer, with its progress rising to 1 meanwhile; an attempt beaten
// meanwhile stops at once.
func (w *Worker) dawdle(ctx context.Context, took time.Duration, done *progress) error {
	wait := time.Duration(float64(took) * (w.cfg.SlowFactor - 1))
	if wait <= 0 {
		return nil
	}
	start, end := time.Now(), time.After(wait)
	tick := time.NewTicker(max(wait/50, time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-end:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			f := 1 / w.cfg.SlowFactor
			done.store(min(f+(1-f)*float64(time.Since(start))/float64(wait), 1))
		}
	}
}

// skipper drops the records at offsets (sorted), the bad records a map
// attempt skips, and keeps count of what it dropped.
type skipper struct {
	offsets []int64
	skipped []int64 // the offsets of the records dropped
	bytes   int64   // their size
}

// records yields recs but those skipped.
func (s *skipper) records(recs iter.Seq2[mr.Record, error]) iter.Seq2[mr.Record, error] {
	if len(s.offsets) == 0 {
		return recs
	}
	return func(yield func(mr.Record, error) bool) {
		for rec, err := range recs {
			if err == nil {
				if _, found := slices.BinarySearch(s.offsets, rec.Offset); found {
					s.skipped = append(s.skipped, rec.Offset)
					s.bytes += rec.Size
					continue
				}
			}
			if !yield(rec, err) {
				return
			}
		}
	}
}

// remove deletes an attempt's outputs: a failed or losing attempt leaves
// nothing behind.
func (w *Worker) remove(names []string) {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	for _, name := range names {
		if name == "" {
			continue
		}
		if err := w.store.Data.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			w.log.Warn("worker: remove output", "object", name, "error", err)
		}
	}
}

// report publishes ev and waits for the event stream to store it, trying
// again through a leader election or a broker restart for up to
// ioTimeout.
func (w *Worker) report(task mr.Task, ev mr.Event) error {
	ev.Job, ev.Phase, ev.Index, ev.Attempt, ev.Worker = task.Job, task.Phase, task.Index, task.Attempt, w.cfg.ID
	data, _ := json.Marshal(ev)
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	for {
		_, err := w.store.JS.Publish(ctx, mr.EventSubject(task.Job, ev.Kind), data)
		if err == nil || ctx.Err() != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// event publishes ev about task as a plain NATS message, which the event
// stream stores without an acknowledgement: events inform the master,
// which does not depend on any one of them (deadlines and commits carry
// the decisions), and nothing here would wait for one. Events from one
// worker keep their order.
func (w *Worker) event(task mr.Task, ev mr.Event) {
	subject, data := w.eventMsg(task, ev)
	if err := w.store.JS.Conn().Publish(subject, data); err != nil {
		w.log.Warn("worker: event", "kind", ev.Kind, "error", err)
	}
}

// eventMsg is ev about task as the worker publishes it: its subject and
// its body.
func (w *Worker) eventMsg(task mr.Task, ev mr.Event) (subject string, data []byte) {
	ev.Job, ev.Phase, ev.Index, ev.Attempt, ev.Worker = task.Job, task.Phase, task.Index, task.Attempt, w.cfg.ID
	data, _ = json.Marshal(ev)
	if ev.Kind == mr.EventProgress {
		return mr.ProgressSubject(task.Job, task.Phase, task.Index), data
	}
	return mr.EventSubject(task.Job, ev.Kind), data
}

// reportStarted publishes that an attempt started. The master finds a dead
// worker's attempts by their Started events, and one lost with its worker,
// killed the moment its task began, leaves the task to the lease. A
// command's work is seen outside the worker as soon as it starts, so a
// task that runs commands waits up to startedWait for the stream to store
// the event before it runs: it starts only once the master can know of
// it. Any other task's work is seen only through its commit, and overlaps
// the event's way to the stream: a worker killed from outside before the
// event is stored leaves its task to the lease either way. Only a Go app
// that ends its own process the moment it starts (os.Exit) could take the
// unsent event with it, where a command that kills its worker cannot.
func (w *Worker) reportStarted(task mr.Task, ev mr.Event, commands bool) {
	if !commands {
		w.event(task, ev)
		return
	}
	ack, err := w.store.JS.PublishAsync(w.eventMsg(task, ev))
	if err != nil {
		w.log.Warn("worker: event", "kind", ev.Kind, "error", err)
		return
	}
	select {
	case <-ack.Ok():
	case <-ack.Err():
	case <-time.After(startedWait):
	}
}

// startedWait bounds reportStarted's wait: a broker slow to answer delays the
// attempt no longer than this.
const startedWait = time.Second

// heartbeat keeps the task with this worker (InProgress) and reports its
// progress every third of the lease, or mr.ProgressEvery if sooner, until
// stop. If another attempt of the task has committed meanwhile
// (errBeaten), or its message has left the queue because its job ended
// or was cancelled (errWithdrawn), it calls end: the attempt should stop.
// Its goroutine starts with the first beat: most tasks are over before.
func (w *Worker) heartbeat(ctx context.Context, msg jetstream.Msg, task mr.Task, done *progress, end func(error)) (stop func()) {
	every := min(w.store.Lease/3, mr.ProgressEvery)
	ctx, cancel := context.WithCancel(ctx)
	finished := make(chan struct{})
	first := time.AfterFunc(every, func() {
		defer close(finished)
		key := mr.CommitKey(task.Job, task.Phase, task.Index)
		var seq uint64 // the message's place in the stream, to see it is still there
		if meta, err := msg.Metadata(); err == nil {
			seq = meta.Sequence.Stream
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			if ctx.Err() != nil {
				return
			}
			if _, err := w.store.Commits.Get(ctx, key); err == nil {
				end(errBeaten)
				return
			}
			if seq > 0 {
				if _, err := w.store.Tasks.GetMsg(ctx, seq); errors.Is(err, jetstream.ErrMsgNotFound) {
					end(errWithdrawn)
					return
				}
			}
			msg.InProgress()
			w.event(task, mr.Event{Kind: mr.EventProgress, Fraction: done.get()})
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return func() {
		cancel()
		if !first.Stop() { // the beats began: wait for them to end
			<-finished
		}
	}
}

// progress is an attempt's fraction done, for its heartbeats. A worker
// made slow (SlowFactor) works at full speed and then waits; its progress
// is told as a slow machine's would be, spread over the whole time, so
// that the master judges it as it would judge one.
type progress struct {
	bits atomic.Uint64 // math.Float64bits of the fraction
	slow float64       // the SlowFactor, at least 1
}

func (p *progress) set(f float64)   { p.store(min(f, 1) / p.slow) }
func (p *progress) store(f float64) { p.bits.Store(math.Float64bits(f)) }
func (p *progress) get() float64    { return math.Float64frombits(p.bits.Load()) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
