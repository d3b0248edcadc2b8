package master

import (
	"reflect"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func id(phase mr.Phase, n int) TaskID { return TaskID{"j", phase, n} }

// step is one event at an offset from t0 and the actions it must cause.
type step struct {
	at   time.Duration
	ev   Event
	want []Action
}

func run(t *testing.T, steps []step) *Core {
	t.Helper()
	c := NewCore()
	for i, s := range steps {
		got := c.Handle(t0.Add(s.at), s.ev)
		if !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d: Handle(%T%+v) = %+v, want %+v", i, s.ev, s.ev, got, s.want)
		}
	}
	return c
}

var submit1x1 = Submitted{Job: "j", Maps: 1, Reduces: 1, MaxAttempts: 2, Timeout: time.Second}

func pub(phase mr.Phase, n, attempt int) Publish {
	return Publish{Task: id(phase, n), Attempt: attempt, Timeout: time.Second}
}

func repub(phase mr.Phase, n, attempt int, why Why) Publish {
	p := pub(phase, n, attempt)
	p.Why = why
	return p
}

// speculating submits job, of three maps, and all three start.
func speculating(job Submitted) []step {
	return []step{
		{0, job, []Action{
			Publish{Task: id(mr.PhaseMap, 0), Attempt: 1, Timeout: job.Timeout},
			Publish{Task: id(mr.PhaseMap, 1), Attempt: 1, Timeout: job.Timeout},
			Publish{Task: id(mr.PhaseMap, 2), Attempt: 1, Timeout: job.Timeout},
		}},
		{0, Started{Task: id(mr.PhaseMap, 0), Attempt: 1, Worker: "a"}, nil},
		{0, Started{Task: id(mr.PhaseMap, 1), Attempt: 1, Worker: "b"}, nil},
		{0, Started{Task: id(mr.PhaseMap, 2), Attempt: 1, Worker: "c"}, nil},
	}
}

func TestCoreRules(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"maps, then reduces, then done", []step{
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, Committed{id(mr.PhaseMap, 0), 1}, []Action{pub(mr.PhaseReduce, 0, 1)}},
			{2, Committed{id(mr.PhaseMap, 0), 1}, nil}, // seen twice
			{3, Committed{id(mr.PhaseReduce, 0), 1}, []Action{Purge{Job: "j"}, Finish{Job: "j", State: JobDone}}},
		}},
		{"a queued task does not time out", []step{
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{10 * time.Second, Tick{}, nil},
		}},
		{"a started task past its deadline gets a new attempt", []step{
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{5 * time.Second, Started{Task: id(mr.PhaseMap, 0), Attempt: 1, Worker: "w"}, nil},
			{5*time.Second + 999*time.Millisecond, Tick{}, nil},
			{6 * time.Second, Tick{}, []Action{repub(mr.PhaseMap, 0, 2, WhyDeadline)}},
			// The old attempt's failure and its late commit change nothing
			// more than the commit itself.
			{7 * time.Second, Failed{Task: id(mr.PhaseMap, 0), Attempt: 1, Err: "x"}, nil},
			{8 * time.Second, Committed{id(mr.PhaseMap, 0), 1}, []Action{pub(mr.PhaseReduce, 0, 1)}},
		}},
		{"the worker's deadline is the one that counts", []step{
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{0, Started{Task: id(mr.PhaseMap, 0), Attempt: 1, Worker: "w", Deadline: t0.Add(3 * time.Second)}, nil},
			{2 * time.Second, Tick{}, nil},
			{3 * time.Second, Tick{}, []Action{repub(mr.PhaseMap, 0, 2, WhyDeadline)}},
		}},
		{"too many failures fail the job with the last error", []step{
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, Failed{Task: id(mr.PhaseMap, 0), Attempt: 1, Err: "first"}, []Action{repub(mr.PhaseMap, 0, 2, WhyFailed)}},
			{2, Failed{Task: id(mr.PhaseMap, 0), Attempt: 2, Err: "second"}, []Action{
				Purge{Job: "j"},
				Finish{Job: "j", State: JobFailed, Err: "j/map/0 failed 2 times; last: second"},
			}},
			{3, Committed{id(mr.PhaseMap, 0), 2}, nil}, // too late
		}},
		{"cancel purges", []step{
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, Cancelled{Job: "j"}, []Action{Purge{Job: "j"}, Finish{Job: "j", State: JobCancelled, Err: "cancelled"}}},
			{2, Cancelled{Job: "j"}, nil},
		}},
		{"a replayed submission is ignored", []step{
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, submit1x1, nil},
		}},
		{"no input goes straight to the reduces", []step{
			{0, Submitted{Job: "j", Maps: 0, Reduces: 2, MaxAttempts: 2, Timeout: time.Second},
				[]Action{pub(mr.PhaseReduce, 0, 1), pub(mr.PhaseReduce, 1, 1)}},
		}},
		{"a lost map output is recomputed, then only the reduce that lost it", []step{
			{0, Submitted{Job: "j", Maps: 2, Reduces: 2, MaxAttempts: 2, Timeout: time.Second}, []Action{pub(mr.PhaseMap, 0, 1), pub(mr.PhaseMap, 1, 1)}},
			{1, Committed{id(mr.PhaseMap, 0), 1}, nil},
			{2, Committed{id(mr.PhaseMap, 1), 1}, []Action{pub(mr.PhaseReduce, 0, 1), pub(mr.PhaseReduce, 1, 1)}},
			{3, Started{Task: id(mr.PhaseReduce, 0), Attempt: 1, Worker: "w"}, nil},
			{4, InputLost{Task: id(mr.PhaseReduce, 0), Attempt: 1, Map: 1, MapAttempt: 1, Err: "gone"}, []Action{
				Uncommit{Task: id(mr.PhaseMap, 1), Reason: "map 1 ran again: j/reduce/0 could not read its output (gone)"},
				repub(mr.PhaseMap, 1, 2, WhyRecompute),
			}},
			// Another reduce lost the same output: the map is already on its way.
			{5, InputLost{Task: id(mr.PhaseReduce, 1), Attempt: 1, Map: 1, MapAttempt: 1, Err: "gone"}, nil},
			{10 * time.Second, Tick{}, nil}, // waiting reduces have no deadline
			{11 * time.Second, Committed{id(mr.PhaseMap, 1), 2}, []Action{repub(mr.PhaseReduce, 0, 2, WhyRecompute), repub(mr.PhaseReduce, 1, 2, WhyRecompute)}},
			{12 * time.Second, Committed{id(mr.PhaseReduce, 0), 2}, nil},
			{13 * time.Second, Committed{id(mr.PhaseReduce, 1), 2}, []Action{Purge{Job: "j"}, Finish{Job: "j", State: JobDone}}},
		}},
		{"a late report about a replaced map output only runs the reduce again", []step{
			{0, Submitted{Job: "j", Maps: 1, Reduces: 2, MaxAttempts: 2, Timeout: time.Second}, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, Committed{id(mr.PhaseMap, 0), 1}, []Action{pub(mr.PhaseReduce, 0, 1), pub(mr.PhaseReduce, 1, 1)}},
			{2, InputLost{Task: id(mr.PhaseReduce, 0), Attempt: 1, Map: 0, MapAttempt: 1, Err: "gone"}, []Action{
				Uncommit{Task: id(mr.PhaseMap, 0), Reason: "map 0 ran again: j/reduce/0 could not read its output (gone)"},
				repub(mr.PhaseMap, 0, 2, WhyRecompute),
			}},
			{3, Committed{id(mr.PhaseMap, 0), 2}, []Action{repub(mr.PhaseReduce, 0, 2, WhyRecompute)}},
			// Reduce 1 had read attempt 1's output too, and says so late.
			{4, InputLost{Task: id(mr.PhaseReduce, 1), Attempt: 1, Map: 0, MapAttempt: 1, Err: "gone"}, []Action{
				repub(mr.PhaseReduce, 1, 2, WhyRecompute),
			}},
		}},
		{"a reduce that fails while a map is recomputed waits for it", []step{
			{0, Submitted{Job: "j", Maps: 1, Reduces: 2, MaxAttempts: 3, Timeout: time.Second}, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, Committed{id(mr.PhaseMap, 0), 1}, []Action{pub(mr.PhaseReduce, 0, 1), pub(mr.PhaseReduce, 1, 1)}},
			{2, InputLost{Task: id(mr.PhaseReduce, 0), Attempt: 1, Map: 0, MapAttempt: -1, Err: "corrupt"}, []Action{
				Uncommit{Task: id(mr.PhaseMap, 0), Reason: "map 0 ran again: j/reduce/0 could not read its output (corrupt)"},
				repub(mr.PhaseMap, 0, 2, WhyRecompute),
			}},
			{3, Failed{Task: id(mr.PhaseReduce, 1), Attempt: 1, Err: "x"}, nil},
			{4, Committed{id(mr.PhaseMap, 0), 2}, []Action{repub(mr.PhaseReduce, 0, 2, WhyRecompute), repub(mr.PhaseReduce, 1, 2, WhyRecompute)}},
		}},
		{"a record on which two attempts failed is skipped", []step{
			{0, Submitted{Job: "j", Maps: 1, Reduces: 1, MaxAttempts: 4, Timeout: time.Second, SkipBadRecords: true}, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, Failed{Task: id(mr.PhaseMap, 0), Attempt: 1, Err: "bad", Record: ptr(int64(7))}, []Action{repub(mr.PhaseMap, 0, 2, WhyFailed)}},
			{2, Failed{Task: id(mr.PhaseMap, 0), Attempt: 2, Err: "bad", Record: ptr(int64(7))},
				[]Action{Publish{Task: id(mr.PhaseMap, 0), Attempt: 3, Timeout: time.Second, Skip: []int64{7}, Why: WhyFailed}}},
		}},
		{"every bad record of a split is skipped, and none counts as the task's failure", []step{
			{0, skipping(2, 0), []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, failedOn(1, 7), []Action{repub(mr.PhaseMap, 0, 2, WhyFailed)}},
			{2, failedOn(2, 7), []Action{skipPub(3, 7)}},
			{3, failedOn(3, 20), []Action{skipPub(4, 7)}},
			{4, failedOn(4, 20), []Action{skipPub(5, 7, 20)}},
			{5, failedOn(5, 3), []Action{skipPub(6, 7, 20)}},
			{6, failedOn(6, 3), []Action{skipPub(7, 3, 7, 20)}},
			{7, Committed{id(mr.PhaseMap, 0), 7}, []Action{pub(mr.PhaseReduce, 0, 1)}},
		}},
		{"failures on different records are the task's", []step{
			{0, skipping(2, 0), []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, failedOn(1, 7), []Action{repub(mr.PhaseMap, 0, 2, WhyFailed)}},
			{2, failedOn(2, 9), []Action{
				Purge{Job: "j"},
				Finish{Job: "j", State: JobFailed, Err: "j/map/0 failed 2 times; last: bad"},
			}},
		}},
		{"with records skipped, failures on none still fail the job", []step{
			{0, skipping(2, 0), []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, failedOn(1, 7), []Action{repub(mr.PhaseMap, 0, 2, WhyFailed)}},
			{2, failedOn(2, 7), []Action{skipPub(3, 7)}},
			{3, Failed{Task: id(mr.PhaseMap, 0), Attempt: 3, Err: "x"}, []Action{skipPub(4, 7)}},
			{4, Failed{Task: id(mr.PhaseMap, 0), Attempt: 4, Err: "y"}, []Action{
				Purge{Job: "j"},
				Finish{Job: "j", State: JobFailed, Err: "j/map/0 failed 2 times; last: y"},
			}},
		}},
		{"a task with more bad records than it may skip fails the job", []step{
			{0, skipping(4, 1), []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, failedOn(1, 7), []Action{repub(mr.PhaseMap, 0, 2, WhyFailed)}},
			{2, failedOn(2, 7), []Action{skipPub(3, 7)}},
			{3, failedOn(3, 9), []Action{skipPub(4, 7)}},
			{4, failedOn(4, 9), []Action{
				Purge{Job: "j"},
				Finish{Job: "j", State: JobFailed, Err: "j/map/0 has more bad records than the 1 a task may skip; last: bad"},
			}},
		}},
		{"a record already skipped that fails again is an ordinary failure", []step{
			{0, skipping(2, 0), []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, failedOn(1, 7), []Action{repub(mr.PhaseMap, 0, 2, WhyFailed)}},
			{2, failedOn(2, 7), []Action{skipPub(3, 7)}},
			{3, failedOn(3, 7), []Action{skipPub(4, 7)}}, // a worker that did not skip it
			{4, failedOn(4, 7), []Action{
				Purge{Job: "j"},
				Finish{Job: "j", State: JobFailed, Err: "j/map/0 failed 2 times; last: bad"},
			}},
		}},
		{"without skipping, a bad record fails the job", []step{
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, Failed{Task: id(mr.PhaseMap, 0), Attempt: 1, Err: "bad", Record: ptr(int64(7))}, []Action{repub(mr.PhaseMap, 0, 2, WhyFailed)}},
			{2, Failed{Task: id(mr.PhaseMap, 0), Attempt: 2, Err: "bad", Record: ptr(int64(7))}, []Action{
				Purge{Job: "j"},
				Finish{Job: "j", State: JobFailed, Err: "j/map/0 failed 2 times; last: bad"},
			}},
		}},
		{"a straggler near the end of its phase gets one backup; the first commit wins", append(speculating(Submitted{Job: "j", Maps: 3, Reduces: 1, MaxAttempts: 2, Timeout: time.Minute, Speculation: true}), []step{
			{100 * time.Millisecond, Committed{id(mr.PhaseMap, 0), 1}, nil},
			{100 * time.Millisecond, Committed{id(mr.PhaseMap, 1), 1}, nil},
			{200 * time.Millisecond, Progressed{Task: id(mr.PhaseMap, 2), Attempt: 1, Fraction: 0.8}, nil},
			{200 * time.Millisecond, Tick{}, nil}, // 2.5 times its peers' time in all: not far enough behind
			{time.Second, Progressed{Task: id(mr.PhaseMap, 2), Attempt: 1, Fraction: 0.85}, nil},
			{time.Second, Tick{}, []Action{Publish{Task: id(mr.PhaseMap, 2), Attempt: 2, Timeout: time.Minute, Why: WhyBackup}}},
			{2 * time.Second, Tick{}, nil}, // one backup only
			{3 * time.Second, Committed{id(mr.PhaseMap, 2), 1}, []Action{Publish{Task: id(mr.PhaseReduce, 0), Attempt: 1, Timeout: time.Minute}}},
		}...)},
		// Each attempt it learns of is published again: its predecessor
		// may have recorded it and lost its lease before publishing it.
		{"a rebuilt core takes its predecessor's attempt numbers and deadline failures", []step{
			{0, Submitted{Job: "j", Maps: 1, Reduces: 1, MaxAttempts: 3, Timeout: time.Second}, []Action{pub(mr.PhaseMap, 0, 1)}},
			{0, Republished{Task: id(mr.PhaseMap, 0), Attempt: 2, Why: WhyDeadline}, []Action{repub(mr.PhaseMap, 0, 2, WhyDeadline)}},
			{0, Republished{Task: id(mr.PhaseMap, 0), Attempt: 3, Why: WhyBackup}, []Action{repub(mr.PhaseMap, 0, 3, WhyBackup)}},
			{0, Republished{Task: id(mr.PhaseMap, 0), Attempt: 2, Why: WhyDeadline}, nil}, // seen again
			{1, Failed{Task: id(mr.PhaseMap, 0), Attempt: 3, Err: "x"}, []Action{repub(mr.PhaseMap, 0, 4, WhyFailed)}},
			{2, Failed{Task: id(mr.PhaseMap, 0), Attempt: 4, Err: "y"}, []Action{
				Purge{Job: "j"},
				Finish{Job: "j", State: JobFailed, Err: "j/map/0 failed 3 times; last: y"},
			}},
		}},
		{"a job's own slowdown threshold holds a backup back", append(speculating(Submitted{Job: "j", Maps: 3, Reduces: 1, MaxAttempts: 2, Timeout: time.Minute, Speculation: true, SpeculationSlowdown: 20}), []step{
			{100 * time.Millisecond, Committed{id(mr.PhaseMap, 0), 1}, nil},
			{100 * time.Millisecond, Committed{id(mr.PhaseMap, 1), 1}, nil},
			{time.Second, Progressed{Task: id(mr.PhaseMap, 2), Attempt: 1, Fraction: 0.85}, nil},
			{time.Second, Tick{}, nil}, // 12 times its peers' time in all: a backup at the default 3, not at 20
			{5 * time.Second, Progressed{Task: id(mr.PhaseMap, 2), Attempt: 1, Fraction: 0.9}, nil},
			{5 * time.Second, Tick{}, []Action{Publish{Task: id(mr.PhaseMap, 2), Attempt: 2, Timeout: time.Minute, Why: WhyBackup}}},
		}...)},
		{"a silent task is judged only once two progress reports could have come", append(speculating(Submitted{Job: "j", Maps: 3, Reduces: 1, MaxAttempts: 2, Timeout: time.Minute, Speculation: true}), []step{
			{10 * time.Millisecond, Committed{id(mr.PhaseMap, 0), 1}, nil},
			{10 * time.Millisecond, Committed{id(mr.PhaseMap, 1), 1}, nil},
			{2*mr.ProgressEvery - time.Millisecond, Tick{}, nil}, // 50 times its peers' time, but it may not have reported yet
			{2 * mr.ProgressEvery, Tick{}, []Action{Publish{Task: id(mr.PhaseMap, 2), Attempt: 2, Timeout: time.Minute, Why: WhyBackup}}},
		}...)},
		{"a start is when the worker began, however late its event", []step{
			{0, Submitted{Job: "j", Maps: 3, Reduces: 1, MaxAttempts: 2, Timeout: time.Minute, Speculation: true}, []Action{
				Publish{Task: id(mr.PhaseMap, 0), Attempt: 1, Timeout: time.Minute},
				Publish{Task: id(mr.PhaseMap, 1), Attempt: 1, Timeout: time.Minute},
				Publish{Task: id(mr.PhaseMap, 2), Attempt: 1, Timeout: time.Minute},
			}},
			// Maps 0 and 1 took a second each; their Started events came
			// late, just before their commits.
			{900 * time.Millisecond, Started{Task: id(mr.PhaseMap, 0), Attempt: 1, Worker: "a", Deadline: t0.Add(time.Minute)}, nil},
			{time.Second, Committed{id(mr.PhaseMap, 0), 1}, nil},
			{900 * time.Millisecond, Started{Task: id(mr.PhaseMap, 1), Attempt: 1, Worker: "b", Deadline: t0.Add(time.Minute)}, nil},
			{time.Second, Committed{id(mr.PhaseMap, 1), 1}, nil},
			{900 * time.Millisecond, Started{Task: id(mr.PhaseMap, 2), Attempt: 1, Worker: "c", Deadline: t0.Add(time.Minute)}, nil},
			{2 * time.Second, Progressed{Task: id(mr.PhaseMap, 2), Attempt: 1, Fraction: 0.8}, nil},
			{2 * time.Second, Tick{}, nil}, // on its way to 2.5 seconds: not three times behind a second
		}},
		{"unknown tasks are ignored", []step{
			{0, Committed{TaskID{"nope", mr.PhaseMap, 0}, 1}, nil},
			{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
			{1, Failed{Task: id(mr.PhaseMap, 7), Attempt: 1}, nil},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { run(t, tt.steps) })
	}
}

func ptr[T any](v T) *T { return &v }

// skipping is a job of one map and one reduce that skips bad records.
func skipping(maxAttempts, maxSkipped int) Submitted {
	return Submitted{Job: "j", Maps: 1, Reduces: 1, MaxAttempts: maxAttempts, Timeout: time.Second,
		SkipBadRecords: true, MaxSkippedRecords: maxSkipped}
}

// failedOn is attempt of map 0 failing on the record at offset.
func failedOn(attempt int, offset int64) Failed {
	return Failed{Task: id(mr.PhaseMap, 0), Attempt: attempt, Err: "bad", Record: &offset}
}

// skipPub is attempt of map 0, after a failure, skipping the records at
// skip.
func skipPub(attempt int, skip ...int64) Publish {
	return Publish{Task: id(mr.PhaseMap, 0), Attempt: attempt, Timeout: time.Second, Skip: skip, Why: WhyFailed}
}

func TestCoreForgetsDeletedJobs(t *testing.T) {
	c := run(t, []step{
		{0, submit1x1, []Action{pub(mr.PhaseMap, 0, 1)}},
		{1, Deleted{Job: "j"}, nil}, // running: kept
	})
	if state, _, ok := c.State("j"); !ok || state != JobMapping {
		t.Fatalf("State(j) after deleting it while it runs = %v, %v; want mapping, known", state, ok)
	}
	c.Handle(t0.Add(2), Cancelled{Job: "j"})
	c.Handle(t0.Add(3), Deleted{Job: "j"})
	if _, _, ok := c.State("j"); ok {
		t.Fatal("State(j) after deleting it once cancelled: known, want forgotten")
	}
	if got := c.Handle(t0.Add(4), Committed{id(mr.PhaseMap, 0), 1}); got != nil {
		t.Errorf("a late commit of the deleted job = %+v, want nothing", got)
	}
}
