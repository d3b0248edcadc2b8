package mr_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

// oneMessage is NATS's default max payload: what the bounds must fit.
const oneMessage = 1 << 20

// TestLimitsFitOneMessage: at the bounds of every limit, a map task's
// commit record (R output names), a done job's outputs (R names) and a
// task message each fit one message of NATS's default size, with room.
func TestLimitsFitOneMessage(t *testing.T) {
	job := strings.Repeat("j", mr.MaxJobIDLen)
	execution := mr.Execution(mr.MaxTaskAttempt)
	maps := mr.NewMapOutputs(job, mr.MaxMapTasks-1, execution, mr.MaxR)
	commit := mr.Commit{Job: job, Phase: mr.PhaseMap, Index: mr.MaxMapTasks - 1, Attempt: mr.MaxTaskAttempt,
		Worker: strings.Repeat("w", 128), Lineage: strings.Repeat("l", 64), At: 1 << 62, Map: &maps}
	var outputs []string
	for r := range mr.MaxR {
		maps.Set(r)
		outputs = append(outputs, mr.ReduceOutputObject(job, r, execution))
	}
	if err := maps.Validate(mr.MaxR); err != nil {
		t.Fatalf("the largest map outputs are invalid: %v", err)
	}
	task := mr.Task{Job: job, Phase: mr.PhaseMap, Index: mr.MaxMapTasks - 1, Attempt: mr.MaxTaskAttempt, App: strings.Repeat("a", mr.MaxAppNameLen),
		Args: []string{strings.Repeat(`"`, mr.MaxArgLen), strings.Repeat(`<`, mr.MaxArgsLen-mr.MaxArgLen)}, R: mr.MaxR, Timeout: mr.MaxTimeout,
		Input: &mr.Input{Name: strings.Repeat("n", mr.MaxInputNameLen), Path: "/" + strings.Repeat("p", mr.MaxPathLen-1),
			Size: mr.MaxInputSize / 2, Offset: mr.MaxInputSize / 2, Digest: strings.Repeat("d", 64)},
		Split: mr.Split{Start: mr.MaxInputSize / 4, End: mr.MaxInputSize / 2}}
	for range mr.MaxSkippedRecordsCeiling {
		task.Skip = append(task.Skip, mr.MaxInputSize-1)
	}
	if err := task.Validate(); err != nil {
		t.Fatalf("the largest task is invalid: %v", err)
	}
	for name, v := range map[string]any{"map commit": commit, "job outputs": outputs, "task": task} {
		data, _ := json.Marshal(v)
		if len(data) > oneMessage*9/10 {
			t.Errorf("the largest %s takes %d bytes, want at most 90%% of %d", name, len(data), oneMessage)
		}
	}
}

// TestDecodeTask: a task as the master makes it decodes; one that breaks
// the protocol or its limits is an error naming the field.
func TestDecodeTask(t *testing.T) {
	good := func() mr.Task {
		return mr.Task{Job: "j", Phase: mr.PhaseMap, Index: 3, Attempt: 1, App: "wordcount", R: 2, Timeout: time.Minute,
			Input: &mr.Input{Name: "a.txt", Path: "/data/a.txt", Size: 100}, Split: mr.Split{Start: 10, End: 20}, Skip: []int64{12}}
	}
	data, _ := json.Marshal(good())
	if task, err := mr.DecodeTask(data); err != nil || task.Index != 3 {
		t.Fatalf("DecodeTask(a good task) = %+v, %v", task, err)
	}
	reduce := mr.Task{Job: "j", Phase: mr.PhaseReduce, Index: 1, Attempt: 2, App: "wordcount", R: 2, Timeout: time.Minute, Maps: 5}
	if data, _ := json.Marshal(reduce); true {
		if _, err := mr.DecodeTask(data); err != nil {
			t.Fatalf("DecodeTask(a good reduce) = %v", err)
		}
	}
	tests := []struct {
		name   string
		change func(*mr.Task)
		want   string
	}{
		{"job with a dot", func(tk *mr.Task) { tk.Job = "a.b" }, "job"},
		{"no phase", func(tk *mr.Task) { tk.Phase = "" }, "phase"},
		{"R of a billion", func(tk *mr.Task) { tk.R = 1e9 }, "r is 1000000000"},
		{"negative index", func(tk *mr.Task) { tk.Index = -1 }, "index is -1"},
		{"reduce past R", func(tk *mr.Task) { tk.Phase, tk.Index, tk.Input = mr.PhaseReduce, 2, nil }, "index is 2"},
		{"reduce of many maps", func(tk *mr.Task) { tk.Phase, tk.Index, tk.Maps = mr.PhaseReduce, 0, 1e9 }, "maps is 1000000000"},
		{"no timeout", func(tk *mr.Task) { tk.Timeout = 0 }, "timeout"},
		{"long args", func(tk *mr.Task) { tk.Args = []string{strings.Repeat("x", 3<<20)} }, "args[0] is 3145728 bytes"},
		{"no input", func(tk *mr.Task) { tk.Input = nil }, "input is missing"},
		{"relative path", func(tk *mr.Task) { tk.Input.Path = "../x" }, "input.path"},
		{"split past the input", func(tk *mr.Task) { tk.Split.End = 101 }, "split is [10, 101)"},
		{"backwards split", func(tk *mr.Task) { tk.Split = mr.Split{Start: 20, End: 10} }, "split is [20, 10)"},
		{"skip outside", func(tk *mr.Task) { tk.Skip = []int64{-5} }, "skip[0] is -5"},
		{"many skips", func(tk *mr.Task) { tk.Skip = make([]int64, mr.MaxSkippedRecordsCeiling+1) }, "skip lists 10001"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := good()
			tt.change(&task)
			data, _ := json.Marshal(task)
			_, err := mr.DecodeTask(data)
			var se *mr.SpecError
			if !errors.Is(err, mr.ErrInvalidTask) || !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("DecodeTask() = %v, want a *SpecError about %q", err, tt.want)
			}
		})
	}
	if _, err := mr.DecodeTask([]byte("{")); !errors.Is(err, mr.ErrInvalidTask) {
		t.Errorf("DecodeTask(garbage) = %v, want ErrInvalidTask", err)
	}
}

// TestMapOutputs: a map's outputs name the objects of the partitions set,
// as MapOutputObject names them, and outputs that do not fit their job
// are refused.
func TestMapOutputs(t *testing.T) {
	o := mr.NewMapOutputs("j", 3, "2-abcd", 10)
	for _, r := range []int{0, 7, 9} {
		o.Set(r)
	}
	for r := range 10 {
		want := ""
		if r == 0 || r == 7 || r == 9 {
			want = mr.MapOutputObject("j", 3, "2-abcd", r)
		}
		if got := o.Object(r); got != want {
			t.Errorf("Object(%d) = %q, want %q", r, got, want)
		}
		if prefix, ok := mr.MapOutputPrefixOf(mr.MapOutputObject("j", 3, "2-abcd", r)); !ok || prefix != o.Prefix {
			t.Errorf("MapOutputPrefixOf(partition %d) = %q, %v; want %q", r, prefix, ok, o.Prefix)
		}
	}
	if got := o.Objects(); len(got) != 3 {
		t.Errorf("Objects() = %q, want 3", got)
	}
	if o.Object(-1) != "" || o.Object(10) != "" {
		t.Error("Object out of range names an object")
	}
	if err := o.Validate(10); err != nil {
		t.Errorf("Validate(10) = %v", err)
	}
	for name, bad := range map[string]mr.MapOutputs{
		"other R":       {Prefix: o.Prefix, Parts: o.Parts, R: 11},
		"short parts":   {Prefix: o.Prefix, Parts: o.Parts[:1], R: 10},
		"not a job's":   {Prefix: "inputs/x", Parts: o.Parts, R: 10},
		"a long prefix": {Prefix: "jobs/" + strings.Repeat("x", 400), Parts: o.Parts, R: 10},
	} {
		if err := bad.Validate(10); err == nil {
			t.Errorf("Validate of %s = nil, want an error", name)
		}
	}
	if _, ok := mr.MapOutputPrefixOf(mr.ReduceOutputObject("j", 0, "1-ab")); ok {
		t.Error("MapOutputPrefixOf(a reduce output) ok, want not")
	}
}
