package master

import (
	"reflect"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

// TestRequeue: an attempt whose message is gone is published again, as a
// new attempt that counts as no failure; a finding about an attempt no
// longer the newest, or a task committed, waiting or of a job that
// ended, changes nothing. Queued lists what should be in the queue.
func TestRequeue(t *testing.T) {
	job := Submitted{Job: "j", Maps: 3, Reduces: 1, MaxAttempts: 2, Timeout: time.Second}
	c := run(t, []step{
		{0, job, []Action{pub(mr.PhaseMap, 0, 1), pub(mr.PhaseMap, 1, 1), pub(mr.PhaseMap, 2, 1)}},
		{0, Started{Task: id(mr.PhaseMap, 1), Attempt: 1, Worker: "a"}, nil},
		{0, Committed{id(mr.PhaseMap, 2), 1}, nil},
	})
	want := []Attempt{{id(mr.PhaseMap, 0), 1}, {id(mr.PhaseMap, 1), 1}}
	if got := c.Queued(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Queued() = %+v, want %+v", got, want)
	}
	steps := []struct {
		ev   Event
		want []Action
	}{
		{Requeue{id(mr.PhaseMap, 0), 1}, []Action{repub(mr.PhaseMap, 0, 2, WhyLost)}},
		{Requeue{id(mr.PhaseMap, 0), 1}, nil}, // an older attempt
		{Requeue{id(mr.PhaseMap, 2), 1}, nil}, // committed
		{Requeue{id(mr.PhaseMap, 7), 1}, nil}, // no such task
		{Requeue{id(mr.PhaseReduce, 0), 0}, nil},
		// Lost twice, and failed once: the job goes on, as only the
		// failure counts toward MaxAttempts.
		{Requeue{id(mr.PhaseMap, 0), 2}, []Action{repub(mr.PhaseMap, 0, 3, WhyLost)}},
		{Failed{Task: id(mr.PhaseMap, 0), Attempt: 3, Err: "boom"}, []Action{repub(mr.PhaseMap, 0, 4, WhyFailed)}},
		// A started attempt whose message is gone: its worker stops it.
		{Requeue{id(mr.PhaseMap, 1), 1}, []Action{repub(mr.PhaseMap, 1, 2, WhyLost)}},
	}
	for i, s := range steps {
		if got := c.Handle(t0, s.ev); !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d: Handle(%T%+v) = %+v, want %+v", i, s.ev, s.ev, got, s.want)
		}
	}
	want = []Attempt{{id(mr.PhaseMap, 0), 4}, {id(mr.PhaseMap, 1), 2}}
	if got := c.Queued(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Queued() = %+v, want %+v", got, want)
	}
	c.Handle(t0, Cancelled{Job: "j"})
	if got := c.Queued(); len(got) != 0 {
		t.Errorf("Queued() of a cancelled job = %+v, want none", got)
	}
	if got := c.Handle(t0, Requeue{id(mr.PhaseMap, 0), 4}); got != nil {
		t.Errorf("Requeue of a cancelled job's task = %+v, want nothing", got)
	}
}

// TestRequeueRebuilt: a master that rebuilds its core from the event
// stream learns of an attempt published because its predecessor's was
// lost, and that counts as no failure there either.
func TestRequeueRebuilt(t *testing.T) {
	job := Submitted{Job: "j", Maps: 1, Reduces: 1, MaxAttempts: 2, Timeout: time.Second}
	run(t, []step{
		{0, job, []Action{pub(mr.PhaseMap, 0, 1)}},
		{0, Republished{Task: id(mr.PhaseMap, 0), Attempt: 2, Why: WhyLost}, []Action{repub(mr.PhaseMap, 0, 2, WhyLost)}},
		{0, Started{Task: id(mr.PhaseMap, 0), Attempt: 2, Worker: "a"}, nil},
		{0, Failed{Task: id(mr.PhaseMap, 0), Attempt: 2, Err: "boom"}, []Action{repub(mr.PhaseMap, 0, 3, WhyFailed)}},
	})
}

// TestRequeueReduceWaits: a reduce whose message is gone while a map is
// being recomputed waits for it, as a failed one does, and runs once the
// map has committed again.
func TestRequeueReduceWaits(t *testing.T) {
	job := Submitted{Job: "j", Maps: 1, Reduces: 2, MaxAttempts: 2, Timeout: time.Second}
	run(t, []step{
		{0, job, []Action{pub(mr.PhaseMap, 0, 1)}},
		{0, Committed{id(mr.PhaseMap, 0), 1}, []Action{pub(mr.PhaseReduce, 0, 1), pub(mr.PhaseReduce, 1, 1)}},
		{0, InputLost{Task: id(mr.PhaseReduce, 0), Attempt: 1, Map: 0, MapAttempt: 1, Err: "gone"}, []Action{
			Uncommit{Task: id(mr.PhaseMap, 0), Reason: "map 0 ran again: j/reduce/0 could not read its output (gone)"},
			repub(mr.PhaseMap, 0, 2, WhyRecompute),
		}},
		{0, Requeue{id(mr.PhaseReduce, 1), 1}, nil},
		{0, Committed{id(mr.PhaseMap, 0), 2}, []Action{repub(mr.PhaseReduce, 0, 2, WhyRecompute), repub(mr.PhaseReduce, 1, 2, WhyRecompute)}},
	})
}
