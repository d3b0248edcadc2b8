package master

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/drover-dev/drover/mr"
)

// TaskID names a task: its job, phase and index.
type TaskID struct {
	Job   string
	Phase mr.Phase
	Index int
}

func (t TaskID) String() string { return fmt.Sprintf("%s/%s/%d", t.Job, t.Phase, t.Index) }

// Events are what the scheduling core learns; Handle takes them one at a
// time, with the time they happened.
type Event interface{ event() }

// Submitted is a new job, already validated and stored.
type Submitted struct {
	Job         string
	Maps        int           // map tasks, one per input split
	Reduces     int           // R
	MaxAttempts int           // failed attempts before the job fails
	Timeout     time.Duration // how long an attempt may run
	// SkipBadRecords lets a map skip a record on which two attempts
	// failed, as the MapReduce paper's §3.7 does; those two failures do
	// not count toward MaxAttempts.
	SkipBadRecords bool
	// MaxSkippedRecords is the most records one map task may skip before
	// the job fails; zero means mr.DefaultMaxSkippedRecords.
	MaxSkippedRecords int
	// Speculation launches backup attempts of stragglers (see
	// straggling), with its thresholds; zero ones take mr's defaults.
	Speculation         bool
	SpeculationAfter    float64
	SpeculationSlowdown float64
	// Reused lists the map tasks already committed with an earlier job's
	// output: they are not run.
	Reused []int
}

// badRecordAttempts is how many attempts must fail on one record before
// the next attempt skips it: one failure may be chance, two on the same
// record are the record's doing.
const badRecordAttempts = 2

// Started is a worker beginning an attempt. The attempt's deadline runs
// from here, not from its publication: a task waiting in the queue behind
// others has not failed.
type Started struct {
	Task    TaskID
	Attempt int
	Worker  string
	// Deadline is when the worker will give up, in the master's clock;
	// zero means Timeout after the event.
	Deadline time.Time
	// Ack is the acknowledgement subject of the message the worker took,
	// for a HandBack should the worker be lost; "" if unknown.
	Ack string
}

// Progressed is an attempt's fraction done, from its heartbeats.
type Progressed struct {
	Task     TaskID
	Attempt  int
	Fraction float64
}

// Committed is a task's commit record, seen in the commit bucket. Only one
// attempt of a task can commit; seeing it again changes nothing.
type Committed struct {
	Task    TaskID
	Attempt int
}

// Failed is an attempt that failed with Err.
type Failed struct {
	Task    TaskID
	Attempt int
	Err     string
	// Record is the byte offset of the input record a map failed on, if
	// it failed on one.
	Record *int64
}

// InputLost is a reduce attempt that could not read a committed map's
// output: it is missing or corrupt. The map runs again, and then the
// reduce; nothing else is recomputed.
type InputLost struct {
	Task    TaskID // the reduce
	Attempt int
	Map     int // the map whose output is lost
	// MapAttempt is the attempt whose commit named the lost output, or -1
	// if unknown: a report about a commit since replaced is stale.
	MapAttempt int
	Err        string
}

// Republished is a publication of an attempt but the first, as the event
// stream recorded it (see Publish.Why). A rebuilding core learns from it
// the attempt numbers, failures and backups of the master before it, so
// that it never publishes an attempt number already used: the work queue
// would drop it as a duplicate.
type Republished struct {
	Task    TaskID
	Attempt int
	Why     Why
}

// Cancelled is a user's cancellation of a job.
type Cancelled struct{ Job string }

// Deleted is the removal of a job that has ended: the core forgets it.
// A job still running is kept.
type Deleted struct{ Job string }

// Tick is the passing of time: attempts past their deadline are retried.
type Tick struct{}

func (Submitted) event()   {}
func (Started) event()     {}
func (Progressed) event()  {}
func (Committed) event()   {}
func (Failed) event()      {}
func (InputLost) event()   {}
func (Republished) event() {}
func (Cancelled) event()   {}
func (Deleted) event()     {}
func (Tick) event()        {}

// Actions are what the core asks its shell to carry out, in order.
type Action interface{ action() }

// Publish sends an attempt of a task to the work queue. The worker that
// takes it gives up Timeout after it starts. The shell records every
// attempt but the first in the event stream first, as Republished.
type Publish struct {
	Task    TaskID
	Attempt int
	Timeout time.Duration
	Skip    []int64 // offsets of the input records the attempt skips
	Why     Why
}

// Why says why an attempt was published.
type Why string

// The reasons for a new attempt.
const (
	WhyFirst     Why = ""          // the task's first attempt
	WhyFailed    Why = "failed"    // the attempt before failed, as its worker reported
	WhyDeadline  Why = "deadline"  // the attempt before passed its deadline: a failure
	WhyBackup    Why = "backup"    // a backup of a straggler
	WhyRecompute Why = "recompute" // a map whose output was lost, or a reduce that waited for one
	WhyLost      Why = "lost"      // the attempt before left the queue with no commit or failure (see Requeue)
)

// Uncommit deletes a map's commit record, whose output was lost, so that
// its next attempt can commit.
type Uncommit struct {
	Task   TaskID
	Reason string // for the job's status
}

// Purge removes a job's remaining tasks from the work queue.
type Purge struct{ Job string }

// Finish records a job's end.
type Finish struct {
	Job   string
	State JobState
	Err   string // why it failed
}

func (Publish) action()  {}
func (Uncommit) action() {}
func (Purge) action()    {}
func (Finish) action()   {}

// JobState is where a job is in its life.
type JobState string

// Job states.
const (
	JobMapping   JobState = "mapping"
	JobReducing  JobState = "reducing"
	JobDone      JobState = "done"
	JobFailed    JobState = "failed"
	JobCancelled JobState = "cancelled"
)

// Ended reports whether a job in s will do nothing more.
func (s JobState) Ended() bool { return s == JobDone || s == JobFailed || s == JobCancelled }

// Core is the master's scheduling logic: a deterministic state machine of
// jobs and their tasks. It reads no clock and does no I/O; its shell feeds
// it events with their times and carries out the actions it returns. It is
// not safe for concurrent use.
type Core struct {
	jobs map[string]*job
}

type job struct {
	id          string
	state       JobState
	reducing    bool // the reduces have been published
	skipBad     bool
	maxSkipped  int // records one map task may skip
	speculate   bool
	after       float64                      // of a phase finished before any backup
	slowdown    float64                      // behind its finished peers, for a backup
	durations   map[mr.Phase][]time.Duration // of the phase's committed attempts
	backups     BackupStats
	maxAttempts int
	timeout     time.Duration
	tasks       map[mr.Phase][]*task
	err         string
}

type task struct {
	id        TaskID
	attempt   int       // the newest attempt published
	started   bool      // a worker has begun the newest attempt
	startedAt time.Time // when it began
	backup    int       // the attempt number of a backup launched, or 0
	deadline  time.Time // of the newest attempt, once started
	committed bool
	commit    int           // the attempt that committed: 0 for an earlier job's output
	waiting   bool          // a reduce waiting for a lost map output to be recomputed
	failures  int           // that count toward the job's MaxAttempts
	badRecord map[int64]int // attempts that failed on each record
	skip      []int64       // records later attempts skip, sorted
	lastErr   string
	worker    string // running the newest attempt, while it is not lost
	ack       string // of the newest attempt's message, as its worker took it
	fraction  float64
}

// NewCore returns a core with no jobs.
func NewCore() *Core { return &Core{jobs: map[string]*job{}} }

// Handle applies ev, which happened at now, and returns what to do.
func (c *Core) Handle(now time.Time, ev Event) []Action {
	switch ev := ev.(type) {
	case Submitted:
		return c.submit(now, ev)
	case Started:
		if t := c.live(ev.Task); t != nil && c.adopt(t, ev.Attempt) {
			timeout := c.jobs[ev.Task.Job].timeout
			t.worker, t.ack, t.started, t.startedAt = ev.Worker, ev.Ack, true, now
			t.deadline = ev.Deadline
			if t.deadline.IsZero() {
				t.deadline = now.Add(timeout)
			}
			// The worker's start, in this clock, as its deadline tells:
			// the event may come late, even after the commit, and a task
			// must not seem quicker, nor later started, than it was.
			if start := t.deadline.Add(-timeout); start.Before(now) {
				t.startedAt = start
			}
		}
	case Progressed:
		if t := c.live(ev.Task); t != nil && c.adopt(t, ev.Attempt) {
			t.fraction = ev.Fraction
		}
	case Committed:
		return c.commit(now, ev)
	case Failed:
		if t := c.live(ev.Task); t != nil && c.adopt(t, ev.Attempt) {
			if ev.Record != nil && c.jobs[ev.Task.Job].skipBad && ev.Task.Phase == mr.PhaseMap {
				return c.failOnRecord(t, *ev.Record, ev.Err)
			}
			return c.fail(t, ev.Err, WhyFailed)
		}
	case InputLost:
		if t := c.live(ev.Task); t != nil && c.adopt(t, ev.Attempt) && ev.Task.Phase == mr.PhaseReduce {
			return c.lost(t, ev)
		}
	case Republished:
		if t := c.live(ev.Task); t != nil && ev.Attempt > t.attempt {
			c.adopt(t, ev.Attempt)
			j := c.jobs[ev.Task.Job]
			switch ev.Why {
			case WhyDeadline:
				t.failures++
			case WhyBackup:
				t.backup = ev.Attempt
				j.backups.Launched++
			}
			// The master before this one records an attempt before it
			// publishes it, and may have lost its lease in between:
			// publish it again, or nobody would ever run it. The work
			// queue drops a copy of a message it holds (the same
			// message ID); a copy of one already taken is an attempt
			// handed out twice, which the commit race settles.
			return []Action{Publish{Task: t.id, Attempt: t.attempt, Timeout: j.timeout, Skip: slices.Clone(t.skip), Why: ev.Why}}
		}
	case Cancelled:
		if j := c.jobs[ev.Job]; j != nil && !j.state.Ended() {
			return c.end(j, JobCancelled, "cancelled")
		}
	case Deleted:
		if j := c.jobs[ev.Job]; j != nil && j.state.Ended() {
			delete(c.jobs, ev.Job)
		}
	case WorkerLost:
		return c.workerLost(ev.Worker)
	case Requeue:
		return c.requeue(ev)
	case Tick:
		return c.tick(now)
	}
	return nil
}

func (c *Core) submit(now time.Time, ev Submitted) []Action {
	if _, ok := c.jobs[ev.Job]; ok {
		return nil // seen before: a restarted shell replays it
	}
	j := &job{id: ev.Job, state: JobMapping, maxAttempts: ev.MaxAttempts, timeout: ev.Timeout,
		skipBad: ev.SkipBadRecords, maxSkipped: cmp.Or(ev.MaxSkippedRecords, mr.DefaultMaxSkippedRecords),
		speculate: ev.Speculation, after: cmp.Or(ev.SpeculationAfter, mr.DefaultSpeculationAfter),
		slowdown: cmp.Or(ev.SpeculationSlowdown, mr.DefaultSpeculationSlowdown), durations: map[mr.Phase][]time.Duration{}, tasks: map[mr.Phase][]*task{}}
	for _, p := range []struct {
		phase mr.Phase
		n     int
	}{{mr.PhaseMap, ev.Maps}, {mr.PhaseReduce, ev.Reduces}} {
		for i := range p.n {
			j.tasks[p.phase] = append(j.tasks[p.phase], &task{id: TaskID{ev.Job, p.phase, i}})
		}
	}
	c.jobs[ev.Job] = j
	for _, n := range ev.Reused {
		if n >= 0 && n < ev.Maps {
			j.tasks[mr.PhaseMap][n].committed = true
		}
	}
	// With no input, or every map reused, the reduces run at once.
	if allCommitted(j.tasks[mr.PhaseMap]) {
		j.state, j.reducing = JobReducing, true
		return c.publishPhase(j, mr.PhaseReduce)
	}
	return c.publishPhase(j, mr.PhaseMap)
}

func (c *Core) commit(now time.Time, ev Committed) []Action {
	j := c.jobs[ev.Task.Job]
	t := c.task(ev.Task)
	if t == nil || t.committed || j.state.Ended() {
		return nil
	}
	t.committed, t.commit = true, ev.Attempt
	// A rebuilding core sees an attempt start and commit at one instant:
	// that says nothing of how long tasks take.
	if t.started && now.After(t.startedAt) {
		j.durations[ev.Task.Phase] = append(j.durations[ev.Task.Phase], now.Sub(t.startedAt))
	}
	switch {
	case t.backup == 0:
	case ev.Attempt >= t.backup:
		j.backups.Won++
	default:
		j.backups.Wasted++
	}
	if !allCommitted(j.tasks[ev.Task.Phase]) {
		return nil
	}
	switch ev.Task.Phase {
	case mr.PhaseMap:
		j.state = JobReducing
		if !j.reducing {
			j.reducing = true
			return c.publishPhase(j, mr.PhaseReduce)
		}
		// A recomputed map is back: run again the reduces that waited.
		var actions []Action
		for _, t := range j.tasks[mr.PhaseReduce] {
			if t.waiting && !t.committed {
				t.waiting = false
				actions = append(actions, c.publish(j, t, WhyRecompute))
			}
		}
		return actions
	default:
		return c.end(j, JobDone, "")
	}
}

// lost handles a reduce that could not read a map's output: the map's
// commit is withdrawn and the map runs again; the reduce waits for it.
// Neither counts as a failure. A report about a commit that has since
// been replaced, by the map recomputed, only runs the reduce again.
func (c *Core) lost(t *task, ev InputLost) []Action {
	j := c.jobs[t.id.Job]
	t.waiting, t.started = true, false
	maps := j.tasks[mr.PhaseMap]
	if ev.Map < 0 || ev.Map >= len(maps) || !maps[ev.Map].committed {
		return nil // unknown, or already being recomputed
	}
	m := maps[ev.Map]
	if ev.MapAttempt >= 0 && ev.MapAttempt != m.commit {
		if !allCommitted(maps) {
			return nil // another map is being recomputed: wait for it
		}
		t.waiting = false
		return []Action{c.publish(j, t, WhyRecompute)}
	}
	m.committed = false
	j.state = JobMapping
	reason := fmt.Sprintf("map %d ran again: %s could not read its output (%s)", ev.Map, t.id, ev.Err)
	return []Action{Uncommit{Task: m.id, Reason: reason}, c.publish(j, m, WhyRecompute)}
}

// fail counts a failed attempt of t and retries it, or fails the job when
// it has failed too often.
func (c *Core) fail(t *task, reason string, why Why) []Action {
	j := c.jobs[t.id.Job]
	t.failures++
	t.lastErr = reason
	if t.failures >= j.maxAttempts {
		return c.end(j, JobFailed, fmt.Sprintf("%s failed %d times; last: %s", t.id, t.failures, reason))
	}
	if t.id.Phase == mr.PhaseReduce && !allCommitted(j.tasks[mr.PhaseMap]) {
		// A map is being recomputed: the retry waits for it.
		t.waiting, t.started = true, false
		return nil
	}
	return []Action{c.publish(j, t, why)}
}

// adopt reports whether an event about attempt concerns t's newest
// attempt. An attempt newer than any this core published was published
// by the master before it (a restarted or new leader rebuilding its state
// from the event stream): the core takes it as the newest.
func (c *Core) adopt(t *task, attempt int) bool {
	if attempt > t.attempt {
		t.attempt = attempt
		t.started, t.waiting = false, false
	}
	return attempt == t.attempt
}

// failOnRecord handles a map attempt, in a job that skips bad records,
// that failed on the input record at offset. A first failure on a record
// counts as the task's: it may be chance. A second proves the record bad:
// later attempts skip it, and neither failure counts toward MaxAttempts,
// so that a split with any number of bad records finishes, each costing
// two attempts. What bounds it is the job's MaxSkippedRecords: a task
// with more bad records than that fails the job. A failure on a record
// already skipped (a worker that did not skip it) is an ordinary failure.
func (c *Core) failOnRecord(t *task, offset int64, reason string) []Action {
	j := c.jobs[t.id.Job]
	i, skipped := slices.BinarySearch(t.skip, offset)
	if t.badRecord == nil {
		t.badRecord = map[int64]int{}
	}
	t.badRecord[offset]++
	if skipped || t.badRecord[offset] < badRecordAttempts {
		return c.fail(t, reason, WhyFailed)
	}
	t.lastErr = reason
	if len(t.skip) >= j.maxSkipped {
		return c.end(j, JobFailed, fmt.Sprintf("%s has more bad records than the %d a task may skip; last: %s", t.id, j.maxSkipped, reason))
	}
	t.skip = slices.Insert(t.skip, i, offset)
	t.failures -= badRecordAttempts - 1 // the record's failures, not the task's
	return []Action{c.publish(j, t, WhyFailed)}
}

func (c *Core) tick(now time.Time) []Action {
	var actions []Action
	for _, id := range slices.Sorted(maps.Keys(c.jobs)) {
		j := c.jobs[id]
		for _, phase := range []mr.Phase{mr.PhaseMap, mr.PhaseReduce} {
			for _, t := range j.tasks[phase] {
				if j.state.Ended() {
					break
				}
				if t.started && !t.committed && !now.Before(t.deadline) {
					actions = append(actions, c.fail(t, fmt.Sprintf("attempt %d passed its deadline", t.attempt), WhyDeadline)...)
				} else if c.straggling(now, j, t) {
					t.backup = t.attempt + 1
					j.backups.Launched++
					actions = append(actions, c.publish(j, t, WhyBackup))
				}
			}
		}
	}
	return actions
}

// BackupStats counts a job's backup attempts: launched, and of those that
// ended, won (the backup committed first) or wasted (the original did).
type BackupStats struct {
	Launched int `json:"launched"`
	Won      int `json:"won"`
	Wasted   int `json:"wasted"`
}

// straggling reports whether t deserves a backup attempt, as Hadoop's
// LATE scheduler judges it: from its progress rate, it will take far
// longer in all than its finished peers took, and a backup started now
// would finish before it. Only when the phase is nearly done (the job's
// after), and only when far behind (its slowdown): a task that runs
// normally is never run twice.
func (c *Core) straggling(now time.Time, j *job, t *task) bool {
	if !j.speculate || !t.started || t.committed || t.backup != 0 || t.waiting ||
		t.id.Phase == mr.PhaseReduce && j.state != JobReducing { // a map is being recomputed
		return false
	}
	tasks := j.tasks[t.id.Phase]
	done := len(j.durations[t.id.Phase])
	if done == 0 || float64(done) < j.after*float64(len(tasks)) {
		return false
	}
	typical := median(j.durations[t.id.Phase]) // what a backup will take
	far := time.Duration(j.slowdown * float64(typical))
	elapsed := now.Sub(t.startedAt)
	switch {
	case elapsed < typical:
		return false // too soon to judge its rate
	case t.fraction <= 0:
		// No progress at all in that long, and in time for two reports.
		return elapsed >= max(far, 2*mr.ProgressEvery)
	}
	total := time.Duration(float64(elapsed) / t.fraction)
	return total > far && total-elapsed > typical
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// Backups returns a job's backup attempt counts.
func (c *Core) Backups(jobID string) BackupStats {
	if j := c.jobs[jobID]; j != nil {
		return j.backups
	}
	return BackupStats{}
}

// publishPhase publishes the phase's tasks. A rebuilt core may already
// know of an attempt its predecessor published: that one is queued or
// running, and only a task that waited after a failure needs another.
func (c *Core) publishPhase(j *job, phase mr.Phase) []Action {
	var actions []Action
	for _, t := range j.tasks[phase] {
		switch {
		case t.committed:
		case t.attempt == 0:
			actions = append(actions, c.publish(j, t, WhyFirst))
		case t.waiting:
			t.waiting = false
			actions = append(actions, c.publish(j, t, WhyFailed))
		}
	}
	return actions
}

func (c *Core) publish(j *job, t *task, why Why) Publish {
	t.attempt++
	t.started, t.worker, t.fraction = false, "", 0
	return Publish{Task: t.id, Attempt: t.attempt, Timeout: j.timeout, Skip: slices.Clone(t.skip), Why: why}
}

func (c *Core) end(j *job, state JobState, reason string) []Action {
	j.state, j.err = state, reason
	// Even a done job may leave tasks queued: a map being recomputed for
	// reduces that, in the end, had read its output before it was lost.
	return []Action{Purge{Job: j.id}, Finish{Job: j.id, State: state, Err: reason}}
}

// task finds a task; nil if its job or index is unknown.
func (c *Core) task(id TaskID) *task {
	j := c.jobs[id.Job]
	if j == nil || id.Index < 0 || id.Index >= len(j.tasks[id.Phase]) {
		return nil
	}
	return j.tasks[id.Phase][id.Index]
}

// live finds an uncommitted task of a job still running.
func (c *Core) live(id TaskID) *task {
	t := c.task(id)
	if t == nil || t.committed || c.jobs[id.Job].state.Ended() {
		return nil
	}
	return t
}

func allCommitted(tasks []*task) bool {
	for _, t := range tasks {
		if !t.committed {
			return false
		}
	}
	return true
}

// State returns a job's state and, for a failed job, why; ok is false for
// an unknown job.
func (c *Core) State(jobID string) (state JobState, err string, ok bool) {
	j := c.jobs[jobID]
	if j == nil {
		return "", "", false
	}
	return j.state, j.err, true
}
