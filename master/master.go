package master

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/timesvc"
)

// DefaultTick is how often the master checks deadlines.
const DefaultTick = 200 * time.Millisecond

// Config describes a master. Zero fields take their defaults.
type Config struct {
	// Apps validates job specs: a job naming an app not here is refused.
	// Required.
	Apps *mr.Registry
	// Tick is how often deadlines are checked (default DefaultTick).
	Tick time.Duration
	// Clock is the master's clock, which it also serves as the time
	// service (default time.Now).
	Clock func() time.Time
	// Logger receives the master's events (default slog.Default).
	Logger *slog.Logger
	// Retention is how long a map output no job uses is kept for later
	// jobs to reuse (default DefaultRetention); see Collect.
	Retention time.Duration
	// HoldJobs holds a submitted job that no live worker of the worker
	// registry can run (an app none has; one that runs commands, and no
	// worker allows them) in state JobWaiting, its tasks unpublished,
	// until one can: rather than have workers that cannot run it fail
	// its tasks. Off, every job is published at once.
	HoldJobs bool
	// Metrics, if not nil, counts what the master sees and does: from the
	// events and commits it feeds its core and the actions it carries
	// out. One *metrics.Master serves every term of a leader (RunLeader).
	Metrics *metrics.Master
	// Registerer, if not nil, receives the collectors of the master's
	// rpcq services, Master and Time (rpcq.ServerConfig.Metrics).
	Registerer prometheus.Registerer
}

// Master runs jobs: it serves the Master rpcq service (Submit, Status,
// List, Cancel) and the time service, feeds its Core from the event
// stream and the commit bucket, and carries out the core's actions.
type Master struct {
	nc    *nats.Conn
	store *mr.Store
	// outputs caches the infos of the outputs being read (see Output).
	outputs objectInfos
	cfg     Config
	log     *slog.Logger

	// term ends, and every action still being carried out with it, as
	// soon as Run's context ends or Run returns: a master whose lease
	// has run out must not act on, however long its services take to
	// shut down.
	term    context.Context
	endTerm context.CancelFunc

	mu     sync.Mutex // guards core, jobs, held, pinned
	core   *Core
	jobs   map[string]*jobView
	held   map[string]*jobView // of jobs, those waiting for a worker: see hold
	pinned map[string]int      // objects a job being submitted adopts: see pin
	exec   sync.Mutex          // keeps actions in the order the core gave them

	// caughtUp is set once every commit stored when Run began is in the
	// view: until then the collection cannot tell what jobs reference.
	caughtUp atomic.Bool

	workers       registry      // the worker registry, as far as the master follows it
	workerArrived chan struct{} // a worker not live before put its entry
}

// jobView is what the master knows of a job beyond its core state.
type jobView struct {
	rec      jobRecord
	splits   []mr.MapSplit
	commits  map[TaskID]mr.Commit
	counters mr.Counters
	// exec is a job whose app runs commands: its tasks go on
	// mr.ExecTaskSubject, to the workers allowed to run them.
	exec    bool
	notes   []string // what happened that a user should know, the first maxNotes
	unnoted int      // notes past maxNotes, counted only
	// quarantined is a job whose stored record could not be loaded: it
	// is failed, whatever the core says (see quarantine).
	quarantined bool
	// waiting says what a held job waits for: the core has not seen it
	// (see hold).
	waiting string
}

// Bounds of what the master keeps of a job for its status: a hostile
// worker may report errors of any length, and a job may skip a record or
// recompute a map many times.
const (
	maxNotes    = 100  // notes kept per job; the rest are counted
	maxErrorLen = 2048 // bytes of an error or a note
	maxNameLen  = 128  // bytes of a worker's name
)

// note adds what a user should know of the job, within maxNotes.
func (v *jobView) note(s string) {
	if len(v.notes) >= maxNotes {
		v.unnoted++
		return
	}
	v.notes = append(v.notes, clip(s, maxErrorLen))
}

// clip is s cut to at most n bytes, at a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// input is the name of a map task's input; "" for a reduce.
func (v *jobView) input(id TaskID) string {
	if id.Phase != mr.PhaseMap || id.Index < 0 || id.Index >= len(v.splits) {
		return ""
	}
	return v.rec.Spec.Inputs[v.splits[id.Index].Input].Name
}

// New returns a master on nc and store.
func New(nc *nats.Conn, store *mr.Store, cfg Config) (*Master, error) {
	if cfg.Apps == nil {
		return nil, errors.New("master: invalid config: Apps is required")
	}
	if cfg.Retention < 0 || cfg.Tick < 0 {
		return nil, errors.New("master: invalid config: negative Tick or Retention")
	}
	cfg.Tick = cmp.Or(cfg.Tick, DefaultTick)
	cfg.Retention = cmp.Or(cfg.Retention, DefaultRetention)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	log := cmp.Or(cfg.Logger, slog.Default()).With("component", "master")
	m := &Master{nc: nc, store: store, cfg: cfg, log: log, core: NewCore(), jobs: map[string]*jobView{}, held: map[string]*jobView{}, pinned: map[string]int{},
		workers: registry{seen: map[string]seenWorker{}}, workerArrived: make(chan struct{}, 1)}
	m.term, m.endTerm = context.WithCancel(context.Background())
	return m, nil
}

// Run serves until ctx ends. It first rebuilds its state from the jobs
// and commits buckets, so that a restarted master carries on.
func (m *Master) Run(ctx context.Context) error {
	defer m.endTerm()
	context.AfterFunc(ctx, m.endTerm)
	if err := m.restore(ctx); err != nil {
		return err
	}
	// Listen before serving: a job submitted the moment the service is up
	// must not have its first events or commits go unseen.
	//
	// Every commit record there is first, then new ones: none is missed
	// between the restore and the follow.
	caughtUp, stopCommits, err := m.followCommits(ctx)
	if err != nil {
		return err
	}
	defer stopCommits()
	// The commits there are, before anything is served: a new leader must
	// not report a job as less far along than its predecessor did.
	select {
	case <-ctx.Done():
		return nil
	case <-caughtUp:
		m.caughtUp.Store(true)
	}
	// All the events the stream keeps: a restarted master learns of the
	// attempts that started and failed while it was away.
	stopEvents, err := m.follow(ctx, mr.StreamEvents, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy},
		func(msg jetstream.Msg) { m.onEvent(msg.Data()) })
	if err != nil {
		return err
	}
	defer stopEvents()
	// Of progress, only each task's last report: the history of a long
	// run is no use to a master that starts.
	stopProgress, err := m.follow(ctx, mr.StreamProgress, jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy},
		func(msg jetstream.Msg) { m.onEvent(msg.Data()) })
	if err != nil {
		return err
	}
	defer stopProgress()

	// The workers there are, before a job is submitted that may wait
	// for one.
	stopRegistry, err := m.followRegistry(ctx)
	if err != nil {
		return err
	}
	defer stopRegistry()

	svc, err := m.serve()
	if err != nil {
		return err
	}
	defer shutdown(svc)
	timeSrv, err := timesvc.Serve(m.nc, timesvc.Config{Clock: m.cfg.Clock, Logger: m.log, Metrics: m.cfg.Registerer})
	if err != nil {
		return err
	}
	defer shutdown(timeSrv)

	probing := make(chan struct{})
	go func() {
		defer close(probing)
		m.probeWorkers(ctx)
	}()
	defer func() { <-probing }() // Run returns here only once ctx has ended
	checking := make(chan struct{})
	go func() {
		defer close(checking)
		m.checkQueue(ctx)
	}()
	defer func() { <-checking }()

	tick := time.NewTicker(m.cfg.Tick)
	defer tick.Stop()
	collecting := m.collectEvery(ctx)
	defer collecting()
	m.log.Info("master: running")
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			m.handle(Tick{})
			m.release(ctx)
		case <-m.workerArrived:
			m.release(ctx)
		}
	}
}

// shutdownGrace bounds how long a term's services take to stop: the
// requests they are answering get this long, so that a master that lost
// its lease to a cut-off broker stands by, and may lead again, at once.
const shutdownGrace = time.Second

// shutdown stops a service of the term within shutdownGrace.
func shutdown(svc interface{ Shutdown(context.Context) error }) {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	svc.Shutdown(ctx)
}

// admit enters a job into the master's view and the core, with its map
// splits and the map commits that reuse earlier output. A job that had
// ended keeps its end. An error means the core could not take it.
func (m *Master) admit(rec jobRecord, splits []mr.MapSplit, reused []mr.Commit) error {
	v := &jobView{rec: rec, splits: splits, commits: map[TaskID]mr.Commit{}, exec: rec.Spec.RunsCommands(m.cfg.Apps)}
	ev := Submitted{Job: rec.Spec.ID, Maps: len(v.splits), Reduces: rec.Spec.R, MaxAttempts: rec.Spec.MaxAttempts,
		Timeout: rec.Spec.Timeout, SkipBadRecords: rec.Spec.SkipBadRecords, MaxSkippedRecords: rec.Spec.MaxSkippedRecords,
		Speculation: rec.Spec.Speculation, SpeculationAfter: rec.Spec.SpeculationAfter, SpeculationSlowdown: rec.Spec.SpeculationSlowdown}
	m.mu.Lock()
	m.jobs[rec.Spec.ID] = v
	for _, c := range reused {
		v.noteCommit(c)
		ev.Reused = append(ev.Reused, c.Index)
	}
	m.mu.Unlock()
	if !rec.State.Ended() {
		return m.handle(ev)
	}
	return nil
}

func (m *Master) onCommit(data []byte) {
	var c mr.Commit
	if json.Unmarshal(data, &c) != nil {
		return
	}
	id := TaskID{Job: c.Job, Phase: c.Phase, Index: c.Index}
	m.mu.Lock()
	v := m.jobs[c.Job]
	if v == nil || !v.fits(c) {
		m.mu.Unlock()
		return // no task of a job of ours: nothing to keep
	}
	first := v.noteCommit(c)
	m.mu.Unlock()
	if first {
		m.cfg.Metrics.Committed(string(c.Phase), len(c.Skipped))
	}
	m.handle(Committed{Task: id, Attempt: c.Attempt})
}

// fits reports whether c can be the commit of one of the job's tasks, as
// a worker makes it: anyone who may write commits may write anything,
// and what the view keeps must stay in proportion to the job.
func (v *jobView) fits(c mr.Commit) bool {
	switch c.Phase {
	case mr.PhaseMap:
		return c.Index >= 0 && c.Index < len(v.splits) && c.Map != nil && c.Map.Validate(v.rec.Spec.R) == nil &&
			len(c.Outputs) == 0 && len(c.Digests) == 0 && len(c.Skipped) <= mr.MaxSkippedRecordsCeiling
	case mr.PhaseReduce:
		return c.Index >= 0 && c.Index < v.rec.Spec.R && c.Map == nil && len(c.Outputs) <= 1 && len(c.Digests) <= 1 && len(c.Skipped) == 0
	}
	return false
}

// noteCommit adds a commit, seen for the first time, to the view, and
// reports whether it was the first.
func (v *jobView) noteCommit(c mr.Commit) bool {
	id := TaskID{Job: c.Job, Phase: c.Phase, Index: c.Index}
	if _, seen := v.commits[id]; seen {
		return false
	}
	v.commits[id] = c
	v.counters.Add(c.Counters)
	if in := v.input(id); in != "" {
		for _, off := range c.Skipped {
			v.note(fmt.Sprintf("map %d skipped the bad record at %s byte %d", id.Index, in, off))
		}
	}
	return true
}

func (m *Master) onEvent(data []byte) {
	var ev mr.Event
	if json.Unmarshal(data, &ev) != nil {
		return
	}
	id := TaskID{Job: ev.Job, Phase: ev.Phase, Index: ev.Index}
	if !m.sane(id, &ev) {
		return
	}
	if counted := ev.Kind == mr.EventStarted || ev.Kind == mr.EventFailed; counted && m.cfg.Metrics != nil &&
		(id.Phase == mr.PhaseMap || id.Phase == mr.PhaseReduce) && m.known(id.Job) {
		if ev.Kind == mr.EventStarted {
			m.cfg.Metrics.Started(string(id.Phase))
		} else {
			m.cfg.Metrics.Failed(string(id.Phase))
		}
	}
	switch ev.Kind {
	case mr.EventStarted:
		m.handle(Started{Task: id, Attempt: ev.Attempt, Worker: ev.Worker, Deadline: time.Unix(0, ev.Deadline), Ack: ev.Ack})
	case mr.EventProgress:
		m.handle(Progressed{Task: id, Attempt: ev.Attempt, Fraction: ev.Fraction})
	case mr.EventFailed:
		m.handle(Failed{Task: id, Attempt: ev.Attempt, Err: ev.Error, Record: ev.Record})
	case mr.EventInputLost:
		lost := InputLost{Task: id, Attempt: ev.Attempt, Map: ev.Map, MapAttempt: -1, Err: ev.Error}
		if ev.MapAttempt != nil {
			lost.MapAttempt = *ev.MapAttempt
		}
		m.handle(lost)
	case mr.EventPublished:
		m.handle(Republished{Task: id, Attempt: ev.Attempt, Why: Why(ev.Why)})
	}
}

// maxEventAttempt is the largest attempt number an event may carry: far
// more than any task takes, and far enough below mr.MaxTaskAttempt that
// the attempts the core numbers after it stay within it.
const maxEventAttempt = mr.MaxTaskAttempt / 2

// sane reports whether an event about task id can be taken as a worker
// (or a master before this one) would send it, and brings what it says
// within bounds: anyone who may publish events may publish anything. A
// failure's record outside the map's input is no record.
func (m *Master) sane(id TaskID, ev *mr.Event) bool {
	if ev.Attempt < 0 || ev.Attempt > maxEventAttempt || math.IsNaN(ev.Fraction) || ev.Fraction < 0 || ev.Fraction > 1 {
		return false
	}
	ev.Error, ev.Worker = clip(ev.Error, maxErrorLen), clip(ev.Worker, maxNameLen)
	if !validAck(ev.Ack) {
		ev.Ack = ""
	}
	if ev.Record != nil {
		m.mu.Lock()
		in := m.inputLocked(id)
		m.mu.Unlock()
		if in == nil || *ev.Record < in.Offset || *ev.Record >= in.Offset+in.Size {
			ev.Record = nil
		}
	}
	return true
}

// inputLocked is the input of a map task; nil for anything else.
func (m *Master) inputLocked(id TaskID) *mr.Input {
	v := m.jobs[id.Job]
	if v == nil || id.Phase != mr.PhaseMap || id.Index < 0 || id.Index >= len(v.splits) {
		return nil
	}
	return &v.rec.Spec.Inputs[v.splits[id.Index].Input]
}

// handle gives ev to the core and carries out its actions, in order.
// What an action needs of the master's state is taken under mu, with the
// core's answer; the I/O happens after, under exec, so that actions run in
// the order the core gave them without holding up the core. An error
// means the core panicked on ev: the event is dropped, and the master
// carries on with its other jobs rather than stop, and stop again on the
// same event or record when it restarts.
func (m *Master) handle(ev Event) error {
	actions, ops, err := m.decide(ev)
	if err != nil {
		m.log.Error("master: event dropped", "event", fmt.Sprintf("%T", ev), "error", err)
		return err
	}
	defer m.exec.Unlock()
	for i := 0; i < len(ops); {
		j := i + 1
		for j < len(ops) && ops[i].task != nil && ops[j].task != nil {
			j++
		}
		if j-i > 1 {
			m.publishAll(ops[i:j], actions[i:j])
		} else {
			m.carryOut(ops[i].do, actions[i])
		}
		i = j
	}
	return nil
}

// op is the I/O that carries out an action.
type op struct {
	do func(context.Context) error
	// task is the message of a first publication, which needs nothing
	// recorded before it: a run of them goes out at once (publishAll).
	task *nats.Msg
}

// publishAll publishes the tasks of ops together, as the first attempts of
// a job's maps or reduces are, rather than each after the last one's
// acknowledgement; one that fails is carried out on its own, as any other
// action. Their order does not matter: they are tasks of one work queue.
func (m *Master) publishAll(ops []op, actions []Action) {
	acks := make([]jetstream.PubAckFuture, len(ops))
	for i, o := range ops {
		ack, err := m.store.JS.PublishMsgAsync(o.task)
		if err != nil {
			break // the rest are carried out one by one
		}
		acks[i] = ack
	}
	for i, ack := range acks {
		if ack != nil {
			select {
			case <-ack.Ok():
				continue
			case <-ack.Err():
			case <-time.After(publishWait):
			case <-m.term.Done():
				return
			}
		}
		m.carryOut(ops[i].do, actions[i])
	}
}

// publishWait bounds the wait for a publication's acknowledgement.
const publishWait = 10 * time.Second

// decide gives ev to the core and prepares its actions under mu. It
// returns holding exec, unless it fails: a panic of the core is its error.
func (m *Master) decide(ev Event) (actions []Action, ops []op, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			actions, ops, err = nil, nil, fmt.Errorf("master: panic: %v", r)
		}
	}()
	committed, isCommit := ev.(Committed)
	var before BackupStats
	if isCommit {
		before = m.core.Backups(committed.Task.Job)
	}
	actions = m.core.Handle(m.cfg.Clock(), ev)
	if isCommit {
		after := m.core.Backups(committed.Task.Job)
		m.cfg.Metrics.Backups(after.Won-before.Won, after.Wasted-before.Wasted)
	}
	ops = make([]op, 0, len(actions))
	for _, a := range actions {
		ops = append(ops, m.prepareLocked(a))
	}
	m.exec.Lock() // taken before mu is let go: the next event's actions queue behind these
	return actions, ops, nil
}

// carryOut runs op until it succeeds: the core counts on every action
// taking effect, and each is idempotent (publishes carry their message
// ID), so a broker that is away, restarting say, only delays them. It
// gives up, mid-call too, when the master's term ends.
func (m *Master) carryOut(op func(context.Context) error, a Action) {
	for wait := 50 * time.Millisecond; m.term.Err() == nil; wait = min(2*wait, 2*time.Second) {
		ctx, cancel := context.WithTimeout(m.term, publishWait)
		err := op(ctx)
		cancel()
		if err == nil {
			return
		}
		m.log.Warn("master: action failed; retrying", "action", fmt.Sprintf("%T%+v", a, a), "error", err)
		select {
		case <-m.term.Done():
			return
		case <-time.After(wait):
		}
	}
}

// prepareLocked turns an action into the I/O that carries it out.
func (m *Master) prepareLocked(a Action) op {
	switch a := a.(type) {
	case Publish:
		task, err := m.taskLocked(a)
		if err != nil {
			return op{do: func(context.Context) error { return err }}
		}
		msg := nats.NewMsg(mr.TaskSubject(task.Job, task.Phase, task.Index))
		if m.jobs[task.Job].exec {
			msg.Subject = mr.ExecTaskSubject(task.Job, task.Phase, task.Index)
		}
		msg.Data, _ = json.Marshal(task)
		msg.Header.Set(jetstream.MsgIDHeader, mr.MsgID(task.Job, task.Phase, task.Index, task.Attempt))
		publish := func(ctx context.Context) error {
			_, err := m.store.JS.PublishMsg(ctx, msg)
			return err
		}
		if a.Attempt == 1 {
			return op{do: publish, task: msg}
		}
		m.cfg.Metrics.Retried(string(task.Phase), cmp.Or(string(a.Why), "other"))
		// The publication, as the event stream keeps it, is recorded
		// first: a master that takes over after the task is out must know
		// its number, and recording it twice is harmless.
		record, _ := json.Marshal(mr.Event{Kind: mr.EventPublished, Job: task.Job, Phase: task.Phase, Index: task.Index,
			Attempt: task.Attempt, Worker: "master", Why: string(a.Why)})
		return op{do: func(ctx context.Context) error {
			if _, err := m.store.JS.Publish(ctx, mr.EventSubject(task.Job, mr.EventPublished), record); err != nil {
				return err
			}
			return publish(ctx)
		}}
	case Uncommit:
		if v := m.jobs[a.Task.Job]; v != nil {
			if c, ok := v.commits[a.Task]; ok {
				v.counters.Sub(c.Counters)
				delete(v.commits, a.Task)
			}
			v.note(a.Reason)
		}
		m.log.Warn("master: "+a.Reason, "job", a.Task.Job)
		return op{do: func(ctx context.Context) error {
			return m.store.Commits.Delete(ctx, mr.CommitKey(a.Task.Job, a.Task.Phase, a.Task.Index))
		}}
	case HandBack:
		m.cfg.Metrics.HandedBack(string(a.Task.Phase))
		return op{do: func(context.Context) error {
			return m.nc.Publish(a.Ack, []byte("-NAK"))
		}}
	case Purge:
		return op{do: func(ctx context.Context) error {
			return m.store.Tasks.Purge(ctx, jetstream.WithPurgeSubject(mr.JobTaskSubjects(a.Job)))
		}}
	case Finish:
		v := m.jobs[a.Job]
		if v == nil {
			return op{do: func(context.Context) error { return nil }}
		}
		v.rec.State, v.rec.Error, v.rec.Ended = a.State, a.Err, m.cfg.Clock().UnixNano()
		data, _ := json.Marshal(v.rec)
		m.log.Info("master: job ended", "job", a.Job, "state", a.State, "error", a.Err)
		return op{do: func(ctx context.Context) error {
			_, err := m.store.Jobs.Put(ctx, a.Job, data)
			return err
		}}
	}
	return op{do: func(context.Context) error { return fmt.Errorf("unknown action %T", a) }}
}

// taskLocked builds the message of a Publish from the job's spec.
func (m *Master) taskLocked(a Publish) (mr.Task, error) {
	v := m.jobs[a.Task.Job]
	if v == nil {
		return mr.Task{}, fmt.Errorf("no job %s", a.Task.Job)
	}
	spec := v.rec.Spec
	t := mr.Task{Job: spec.ID, Phase: a.Task.Phase, Index: a.Task.Index, Attempt: a.Attempt,
		App: spec.App, Args: spec.Args, R: spec.R, Timeout: a.Timeout, Skip: a.Skip}
	if a.Task.Phase == mr.PhaseMap {
		s := v.splits[a.Task.Index]
		t.Input, t.Split = &spec.Inputs[s.Input], s.Split
	} else {
		t.Maps = len(v.splits)
	}
	return t, nil
}

// Status reports a job; ok is false if the master does not know it.
func (m *Master) Status(id string) (JobStatus, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.jobs[id]
	if v == nil {
		return JobStatus{}, false
	}
	st := JobStatus{
		ID: id, App: v.rec.Spec.App, Maps: len(v.splits), Reduces: v.rec.Spec.R, Counters: v.counters,
		Submitted: v.rec.Submitted, Ended: v.rec.Ended, Notes: slices.Clone(v.notes), Owner: v.rec.Owner,
	}
	if v.unnoted > 0 {
		st.Notes = append(st.Notes, fmt.Sprintf("and %d more notes", v.unnoted))
	}
	st.State, st.Error = m.stateLocked(id, v)
	if v.waiting != "" {
		st.State, st.Waiting = JobWaiting, v.waiting
	}
	st.Backups = m.core.Backups(id)
	st.Outputs = make([]string, v.rec.Spec.R)
	st.OutputDigests = make([]string, v.rec.Spec.R)
	for tid, c := range v.commits {
		switch tid.Phase {
		case mr.PhaseMap:
			st.MapsDone++
			if c.Reused != "" {
				st.MapsReused++
			}
		case mr.PhaseReduce:
			st.ReduceDone++
			if tid.Index < len(st.Outputs) && len(c.Outputs) > 0 {
				st.Outputs[tid.Index] = c.Outputs[0]
				st.OutputDigests[tid.Index] = c.Digest(0)
			}
		}
	}
	if st.State != JobDone {
		st.Outputs, st.OutputDigests = nil, nil // readers follow outputs only once every one is committed
	}
	return st, true
}

// stateLocked is where a job is and, if it failed, why: the core's word,
// which is newer than the stored record's, but for a quarantined job.
func (m *Master) stateLocked(id string, v *jobView) (JobState, string) {
	state, why := v.rec.State, v.rec.Error
	if v.quarantined {
		return state, why
	}
	if s, err, ok := m.core.State(id); ok {
		state, why = s, cmp.Or(err, why)
	}
	return state, why
}

// Cancel stops a job: its tasks leave the queue and it ends cancelled.
func (m *Master) Cancel(id string) error {
	if !m.known(id) {
		return noJob(id)
	}
	ctx, cancel := context.WithTimeout(m.term, 10*time.Second)
	defer cancel()
	if held, err := m.cancelHeld(ctx, id); held {
		return err
	}
	return m.handle(Cancelled{Job: id})
}

// newJobID names a job by when it was submitted, and 24 random bits.
func newJobID(now time.Time) string {
	var b [3]byte
	rand.Read(b[:])
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}
