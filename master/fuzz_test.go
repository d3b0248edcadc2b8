package master

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// fuzzSpecs seed the fuzzers of job specs: valid ones and ones at or past
// the limits.
func fuzzSpecs() []mr.JobSpec {
	digest := strings.Repeat("ab", 32)
	return []mr.JobSpec{
		{App: "wordcount", R: 3, Inputs: []mr.Input{{Name: "a.txt", Object: mr.InputObject(digest), Digest: digest, Size: 100}}},
		{ID: "j-1", App: "grep", Args: []string{"a+b"}, R: 1, SplitSize: mr.MinSplitSize, Inputs: []mr.Input{{Name: "b", Path: "/data/b", Size: 1 << 20}}},
		{App: "streaming", Args: []string{"cat", "uniq -c"}, R: mr.MaxR, SkipBadRecords: true, Speculation: true, Timeout: time.Hour,
			Inputs: []mr.Input{{Name: "c", Path: "/c", Size: 0}}},
		{App: "wordcount", R: 1e9, SplitSize: -1, Inputs: []mr.Input{{Name: "d", Path: "/d", Size: 1 << 50}}},
		{App: "wordcount", R: 1, SplitSize: mr.MinSplitSize, Inputs: []mr.Input{{Name: "e", Path: "/e", Size: mr.MaxInputSize}}},
	}
}

// FuzzSubmitArgs feeds arbitrary Submit requests, in JSON or msgpack, to
// the decoding rpcq does and to Validate, as Submit does: a spec within
// every limit, or an error, never a panic; and a valid spec costs no more
// than its limits.
func FuzzSubmitArgs(f *testing.F) {
	for _, spec := range fuzzSpecs() {
		for _, codec := range []rpcq.Codec{rpcq.JSON, rpcq.Msgpack} {
			data, _ := codec.Marshal(SubmitArgs{Spec: spec})
			f.Add(data, codec == rpcq.JSON)
		}
	}
	f.Add([]byte(`{"spec":{"app":"wordcount","r":1,"inputs":[{"name":"a","path":"/a","size":1e12}],"split_size":1}}`), true)
	f.Add([]byte(`{"spec":{"speculation_after":1e400}}`), true)
	f.Add([]byte{0x81, 0xa4, 's', 'p', 'e', 'c', 0xdf, 0xff, 0xff, 0xff, 0xff}, false) // a map claiming 4G entries
	reg := apps.Registry(false)
	f.Fuzz(func(t *testing.T, body []byte, isJSON bool) {
		codec := rpcq.Msgpack
		if isJSON {
			codec = rpcq.JSON
		}
		var args SubmitArgs
		if codec.Unmarshal(body, &args) != nil {
			return
		}
		spec := args.Spec
		if spec.Validate(reg) != nil {
			return
		}
		spec.RunsCommands(reg)
		checkBounded(t, spec)
	})
}

// FuzzLoadJob feeds arbitrary stored job records to loadJob, as a master
// restoring its jobs does: a job within every limit, or an error to
// quarantine it with, and no panic, not even one loadJob recovers.
func FuzzLoadJob(f *testing.F) {
	for i, spec := range fuzzSpecs() {
		spec.ID = "job"
		for _, state := range []JobState{JobMapping, JobDone, "nonsense"} {
			data, _ := json.Marshal(jobRecord{Spec: spec, State: state, Submitted: int64(i)})
			f.Add(data)
		}
	}
	f.Add([]byte("\x00\xffnot a record"))
	f.Add([]byte(`{"spec":{"id":"job","app":"wordcount","r":1,"inputs":[{"name":"a","path":"/a"}]},"state":"done","error":"` + strings.Repeat("e", 5000) + `"}`))
	reg := apps.Registry(false)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, splits, err := loadJob("job", data, reg)
		if err != nil {
			if strings.HasPrefix(err.Error(), "panic:") {
				t.Fatalf("loadJob panicked: %v", err)
			}
			return
		}
		if len(splits) > mr.MaxMapTasks || len(rec.Error) > maxErrorLen {
			t.Fatalf("loadJob accepted %d splits, an error of %d bytes", len(splits), len(rec.Error))
		}
		checkBounded(t, rec.Spec)
	})
}

// checkBounded fails t if a spec that passed validation is past a limit.
func checkBounded(t *testing.T, spec mr.JobSpec) {
	t.Helper()
	if spec.R < 1 || spec.R > mr.MaxR || spec.SplitSize < mr.MinSplitSize || spec.SplitSize > mr.MaxSplitSize ||
		spec.MaxAttempts < 1 || spec.MaxAttempts > mr.MaxAttemptsCeiling || spec.Timeout < mr.MinTimeout || spec.Timeout > mr.MaxTimeout {
		t.Fatalf("a valid spec past a limit: %+v", spec)
	}
	if n := len(spec.MapSplits()); n > mr.MaxMapTasks || n*spec.R > mr.MaxMapOutputs {
		t.Fatalf("a valid spec of %d map tasks, R %d", n, spec.R)
	}
	if data, _ := json.Marshal(spec); len(data) > mr.MaxSpecBytes {
		t.Fatalf("a valid spec of %d bytes encoded", len(data))
	}
}
