package mr_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

// FuzzDecodeTask feeds arbitrary task messages to DecodeTask, as a worker
// takes them from the queue: a task within every limit, or an
// ErrInvalidTask, never a panic.
func FuzzDecodeTask(f *testing.F) {
	for _, task := range []mr.Task{
		{Job: "j", Phase: mr.PhaseMap, Index: 3, Attempt: 1, App: "wordcount", R: 2, Timeout: time.Minute,
			Input: &mr.Input{Name: "a.txt", Path: "/data/a.txt", Size: 100}, Split: mr.Split{Start: 10, End: 20}, Skip: []int64{12}},
		{Job: "j", Phase: mr.PhaseMap, Attempt: 2, App: "streaming", Args: []string{"cat", "wc -l"}, R: 1, Timeout: time.Second,
			Input: &mr.Input{Name: "b", Object: mr.InputObject(strings.Repeat("0", 64)), Digest: strings.Repeat("0", 64), Size: 5}, Split: mr.Split{End: 5}},
		{Job: "j", Phase: mr.PhaseReduce, Index: 1, Attempt: 1, App: "wordcount", R: 2, Timeout: time.Minute, Maps: 7},
	} {
		data, _ := json.Marshal(task)
		f.Add(data)
	}
	f.Add([]byte(`{"job":"j","phase":"map","r":1000000000,"index":-1}`))
	f.Add([]byte(`{"job":"j","phase":"reduce","r":1,"maps":9223372036854775807,"timeout":1}`))
	f.Add([]byte(`{"job":"j","phase":"map","r":1,"timeout":1,"input":{"name":"a","path":"/a","size":-5},"split":{"Start":3,"End":1}}`))
	f.Add([]byte(`{"skip":[` + strings.Repeat("1,", 100) + `1]}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		task, err := mr.DecodeTask(data)
		if err != nil {
			if !errors.Is(err, mr.ErrInvalidTask) {
				t.Fatalf("DecodeTask error %v is not ErrInvalidTask", err)
			}
			return
		}
		if task.R < 1 || task.R > mr.MaxR || len(task.Args) > mr.MaxArgs || len(task.Skip) > mr.MaxSkippedRecordsCeiling {
			t.Fatalf("DecodeTask accepted %+v, past a limit", task)
		}
		if task.Phase == mr.PhaseMap && (task.Input == nil || task.Split.End > task.Input.Size || task.Split.Start < 0) {
			t.Fatalf("DecodeTask accepted a map task without a sound input: %+v", task)
		}
	})
}

// FuzzSpecEncodedSize checks that the size Validate bounds, counted
// without encoding the spec, is never less than its JSON encoding, for
// any strings in it and any numbers.
func FuzzSpecEncodedSize(f *testing.F) {
	f.Add("job-1", "wordcount", "a\"b<c>\u2028\xff", "name\n", "/path", int64(-1), int64(1<<62), 10000)
	f.Add("", "", "", "", "", int64(0), int64(0), 0)
	f.Fuzz(func(t *testing.T, id, app, arg, name, path string, size, offset int64, r int) {
		spec := mr.JobSpec{ID: id, App: app, Args: []string{arg, arg + name}, R: r, SplitSize: size, MaxAttempts: r, Timeout: time.Duration(offset),
			MaxSkippedRecords: -r, SpeculationAfter: float64(size), SpeculationSlowdown: float64(offset), SkipBadRecords: true, Speculation: true, NoReuse: true,
			Inputs: []mr.Input{{Name: name, Path: path, Object: arg, Size: size, Digest: id, Offset: offset}, {Name: path, Size: offset, Offset: size}}}
		data, err := json.Marshal(spec)
		if err != nil {
			return // not a number JSON can carry
		}
		if n := mr.EncodedSize(&spec); n < len(data) {
			t.Fatalf("encodedSize = %d, less than the %d bytes of %s", n, len(data), data)
		}
	})
}
