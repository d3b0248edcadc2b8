package master

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/drover-dev/drover/mr"
)

// viewOf is a master that knows spec, for tests of what it builds from it.
func viewOf(t *testing.T, spec mr.JobSpec) *Master {
	t.Helper()
	if err := spec.ValidateForm(); err != nil {
		t.Fatal(err)
	}
	m := &Master{jobs: map[string]*jobView{}, core: NewCore()}
	m.jobs[spec.ID] = &jobView{rec: jobRecord{Spec: spec}, splits: spec.MapSplits(), commits: map[TaskID]mr.Commit{}}
	return m
}

// TestTasksPassDecodeTask: every task message the master builds from a
// valid spec, one at the limits included, is one workers accept.
func TestTasksPassDecodeTask(t *testing.T) {
	digest := strings.Repeat("ab", 32)
	spec := mr.JobSpec{ID: strings.Repeat("j", mr.MaxJobIDLen), App: "streaming", R: mr.MaxR, SplitSize: mr.MinSplitSize,
		Args: []string{strings.Repeat("m", mr.MaxArgLen), strings.Repeat("r", mr.MaxArgsLen-mr.MaxArgLen)}, Timeout: mr.MinTimeout,
		Inputs: []mr.Input{
			{Name: "a", Path: "/a", Size: 10 * mr.MinSplitSize},
			{Name: "b", Object: mr.InputObject(digest), Digest: digest, Size: 100, Offset: 5000},
			{Name: "c", Path: "/c"},
		}}
	m := viewOf(t, spec)
	v := m.jobs[spec.ID]
	var publishes []Publish
	for n := range v.splits {
		publishes = append(publishes, Publish{Task: TaskID{spec.ID, mr.PhaseMap, n}, Attempt: 1, Timeout: spec.Timeout, Skip: []int64{v.rec.Spec.Inputs[v.splits[n].Input].Offset}})
	}
	publishes = append(publishes, Publish{Task: TaskID{spec.ID, mr.PhaseReduce, mr.MaxR - 1}, Attempt: maxEventAttempt + 1, Timeout: spec.Timeout})
	for _, p := range publishes {
		task, err := m.taskLocked(p)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := json.Marshal(task)
		if _, err := mr.DecodeTask(data); err != nil {
			t.Errorf("the master's task %v: %v", p.Task, err)
		}
	}
}

// TestHostileEvents: events that no worker sends are dropped, and what a
// worker says is cut to bounds.
func TestHostileEvents(t *testing.T) {
	m := viewOf(t, mr.JobSpec{ID: "j", App: "wordcount", R: 1, Inputs: []mr.Input{{Name: "a", Path: "/a", Size: 100}}})
	id := TaskID{"j", mr.PhaseMap, 0}
	off := func(n int64) *int64 { return &n }
	tests := []struct {
		name   string
		ev     mr.Event
		sane   bool
		record bool // the record is kept
	}{
		{"a failure on a record", mr.Event{Attempt: 1, Record: off(50)}, true, true},
		{"a record past the input", mr.Event{Attempt: 1, Record: off(100)}, true, false},
		{"a negative record", mr.Event{Attempt: 1, Record: off(-1)}, true, false},
		{"a huge attempt", mr.Event{Attempt: math.MaxInt}, false, false},
		{"a negative attempt", mr.Event{Attempt: -1}, false, false},
		{"a NaN fraction", mr.Event{Attempt: 1, Fraction: math.NaN()}, false, false},
		{"a fraction past the end", mr.Event{Attempt: 1, Fraction: 2}, false, false},
	}
	for _, tt := range tests {
		ev := tt.ev
		if got := m.sane(id, &ev); got != tt.sane || got && (ev.Record != nil) != tt.record {
			t.Errorf("%s: sane = %v, record kept %v; want %v, %v", tt.name, got, ev.Record != nil, tt.sane, tt.record)
		}
	}
	ev := mr.Event{Attempt: 1, Error: strings.Repeat("e", 1<<20), Worker: strings.Repeat("w", 1<<10)}
	if !m.sane(id, &ev) || len(ev.Error) > maxErrorLen || len(ev.Worker) > maxNameLen {
		t.Errorf("an event with a %d-byte error and a %d-byte worker: want both cut", len(ev.Error), len(ev.Worker))
	}
}
