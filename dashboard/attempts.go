package dashboard

import (
	"slices"
	"time"

	"github.com/drover-dev/drover/mr"
)

// Record is an event as the event stream stored it: the event and when
// the broker stored it, the one clock every event shares.
type Record struct {
	Event mr.Event
	At    time.Time
}

// Result is how an attempt's run ended, as far as the stored events and
// commits tell.
type Result string

// Results of a run.
const (
	// ResultRunning: the run has not ended yet.
	ResultRunning Result = "running"
	// ResultCommitted: the run committed the task's output.
	ResultCommitted Result = "committed"
	// ResultFailed: the run reported a failure; Attempt.Error says why.
	ResultFailed Result = "failed"
	// ResultLost: the same attempt started again, elsewhere or on the same
	// worker: its worker was found gone or its lease ran out.
	ResultLost Result = "lost"
	// ResultSuperseded: another run of the task committed first; this one's
	// output, if any, is thrown away. It ends, on the timeline, at the
	// winner's commit: no event says when its worker gave up.
	ResultSuperseded Result = "superseded"
	// ResultStopped: the job ended (failed or cancelled) while it ran.
	ResultStopped Result = "stopped"
	// ResultReused: no run: the task adopted an earlier job's map output.
	ResultReused Result = "reused"
)

// Attempt is one run of one attempt of a task: the queue may hand one
// attempt to several workers in turn (a worker lost, a lease run out), and
// each is a run of its own here.
type Attempt struct {
	Phase   mr.Phase
	Index   int
	Attempt int
	Worker  string
	Start   time.Time
	End     time.Time // zero while Result is ResultRunning
	Result  Result
	Backup  bool   // the master published this attempt as a straggler's backup
	Why     string // why the master published it, for attempts but the first: failed, deadline, backup or recompute
	Error   string // the failure the run reported
}

// Task is a map or reduce task and every run of its attempts, in the
// order they started.
type Task struct {
	Phase    mr.Phase
	Index    int
	Attempts []Attempt
	// Committed is whether the task's output is committed; Reused names
	// the earlier job whose map output it adopted, if it did.
	Committed bool
	Reused    string
}

// taskKey names a task.
type taskKey struct {
	phase mr.Phase
	index int
}

// Tasks rebuilds a job's tasks and their runs from its stored events
// (in the order they were stored) and its commit records: maps map tasks
// and reduces reduce tasks, each listed even before it runs. A run no
// event ended is ResultStopped at ended when the job has ended (ended not
// zero), else ResultRunning. Events and commits of other jobs, or of
// tasks out of range, are ignored, so that nothing a worker reports can
// make the result larger than the job. It is a pure function; the
// slices are not kept.
func Tasks(maps, reduces int, records []Record, commits []mr.Commit, ended time.Time) []Task {
	tasks := make([]Task, 0, maps+reduces)
	index := make(map[taskKey]int, maps+reduces)
	for i := range maps {
		index[taskKey{mr.PhaseMap, i}] = len(tasks)
		tasks = append(tasks, Task{Phase: mr.PhaseMap, Index: i})
	}
	for i := range reduces {
		index[taskKey{mr.PhaseReduce, i}] = len(tasks)
		tasks = append(tasks, Task{Phase: mr.PhaseReduce, Index: i})
	}
	type published struct {
		key     taskKey
		attempt int
	}
	why := map[published]string{}
	for _, r := range records {
		ev := r.Event
		i, ok := index[taskKey{ev.Phase, ev.Index}]
		if !ok {
			continue
		}
		t := &tasks[i]
		switch ev.Kind {
		case mr.EventPublished:
			why[published{taskKey{ev.Phase, ev.Index}, ev.Attempt}] = ev.Why
		case mr.EventStarted:
			for j := range t.Attempts {
				if a := &t.Attempts[j]; a.Result == ResultRunning && a.Attempt == ev.Attempt {
					a.End, a.Result = r.At, ResultLost
				}
			}
			w := why[published{taskKey{ev.Phase, ev.Index}, ev.Attempt}]
			t.Attempts = append(t.Attempts, Attempt{Phase: ev.Phase, Index: ev.Index, Attempt: ev.Attempt, Worker: ev.Worker,
				Start: r.At, Result: ResultRunning, Why: w, Backup: w == "backup"})
		case mr.EventFailed:
			a := t.open(ev.Attempt, ev.Worker)
			if a == nil {
				t.Attempts = append(t.Attempts, Attempt{Phase: ev.Phase, Index: ev.Index, Attempt: ev.Attempt, Worker: ev.Worker, Start: r.At})
				a = &t.Attempts[len(t.Attempts)-1]
			}
			a.End, a.Result, a.Error = r.At, ResultFailed, ev.Error
		}
	}
	for _, c := range commits {
		i, ok := index[taskKey{c.Phase, c.Index}]
		if !ok || tasks[i].Committed {
			continue
		}
		t := &tasks[i]
		t.Committed = true
		at := time.Unix(0, c.At)
		if c.Reused != "" {
			t.Reused = c.Reused
			t.Attempts = append(t.Attempts, Attempt{Phase: c.Phase, Index: c.Index, Attempt: c.Attempt, Worker: c.Worker, Start: at, End: at, Result: ResultReused})
			continue
		}
		a := t.open(c.Attempt, c.Worker)
		if a == nil {
			t.Attempts = append(t.Attempts, Attempt{Phase: c.Phase, Index: c.Index, Attempt: c.Attempt, Worker: c.Worker, Start: at})
			a = &t.Attempts[len(t.Attempts)-1]
		}
		// The commit's time is the worker's clock: never draw it before
		// the run's start in the broker's.
		a.End, a.Result = maxTime(at, a.Start), ResultCommitted
		for j := range t.Attempts {
			if b := &t.Attempts[j]; b.Result == ResultRunning {
				b.End, b.Result = maxTime(a.End, b.Start), ResultSuperseded
			}
		}
	}
	if !ended.IsZero() {
		for i := range tasks {
			for j := range tasks[i].Attempts {
				if a := &tasks[i].Attempts[j]; a.Result == ResultRunning {
					a.End, a.Result = maxTime(ended, a.Start), ResultStopped
				}
			}
		}
	}
	for i := range tasks {
		slices.SortStableFunc(tasks[i].Attempts, func(a, b Attempt) int { return a.Start.Compare(b.Start) })
	}
	return tasks
}

// open is the latest run of attempt on worker that has not ended.
func (t *Task) open(attempt int, worker string) *Attempt {
	for j := len(t.Attempts) - 1; j >= 0; j-- {
		if a := &t.Attempts[j]; a.Result == ResultRunning && a.Attempt == attempt && a.Worker == worker {
			return a
		}
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}
