package mr_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
)

func registry(t *testing.T) *mr.Registry {
	t.Helper()
	var reg mr.Registry
	if err := apps.Register(&reg); err != nil {
		t.Fatal(err)
	}
	if err := apps.RegisterStreaming(&reg, false); err != nil {
		t.Fatal(err)
	}
	return &reg
}

// digest is a well-formed SHA-256 in hex.
var digest = strings.Repeat("ab", 32)

func TestValidate(t *testing.T) {
	good := func() mr.JobSpec {
		return mr.JobSpec{ID: "job-1", App: "wordcount", R: 2, Inputs: []mr.Input{{Name: "a.txt", Object: mr.InputObject(digest), Digest: digest, Size: 10}}}
	}
	tests := []struct {
		name   string
		change func(*mr.JobSpec)
		want   string
	}{
		{"bad id", func(s *mr.JobSpec) { s.ID = "a.b" }, `id "a.b": want ASCII letters`},
		{"long id", func(s *mr.JobSpec) { s.ID = strings.Repeat("a", mr.MaxJobIDLen+1) }, "id is 33 bytes: want at most 32"},
		{"R zero", func(s *mr.JobSpec) { s.R = 0 }, "r is 0: want 1 to 10000 reduce tasks"},
		{"R a billion", func(s *mr.JobSpec) { s.R = 1e9 }, "r is 1000000000: want 1 to 10000 reduce tasks"},
		{"no inputs", func(s *mr.JobSpec) { s.Inputs = nil }, "inputs are missing"},
		{"unknown app", func(s *mr.JobSpec) { s.App = "nope" }, `app "nope" is unknown: want one of [grep indexer sort streaming sum wordcount]`},
		{"no app", func(s *mr.JobSpec) { s.App = "" }, "app is missing"},
		{"app name", func(s *mr.JobSpec) { s.App = "word count" }, `app "word count": want ASCII letters`},
		{"long app name", func(s *mr.JobSpec) { s.App = strings.Repeat("a", 65) }, "app is 65 bytes: want at most 64"},
		{"bad args", func(s *mr.JobSpec) { s.App, s.Args = "grep", []string{"("} }, "grep"},
		{"many args", func(s *mr.JobSpec) { s.Args = make([]string, mr.MaxArgs+1) }, "args are 65: want at most 64"},
		{"3 MB command", func(s *mr.JobSpec) { s.App, s.Args = "streaming", []string{strings.Repeat("x", 3<<20), "cat"} },
			"args[0] is 3145728 bytes: want at most 32768"},
		{"long args together", func(s *mr.JobSpec) {
			s.App, s.Args = "streaming", []string{strings.Repeat("x", 32<<10), strings.Repeat("y", 32<<10), "z"}
		},
			"args are 65537 bytes together: want at most 65536"},
		{"split size below the floor", func(s *mr.JobSpec) { s.SplitSize = 1 }, "split_size is 1: want 1024 to 1073741824 bytes"},
		{"negative split size", func(s *mr.JobSpec) { s.SplitSize = -1 }, "split_size is -1: want 1024 to 1073741824 bytes"},
		{"split size of a terabyte", func(s *mr.JobSpec) { s.SplitSize = 1e12 }, "split_size is 1000000000000: want 1024 to 1073741824 bytes"},
		{"negative attempts", func(s *mr.JobSpec) { s.MaxAttempts = -1 }, "max_attempts is -1: want 1 to 100"},
		{"many attempts", func(s *mr.JobSpec) { s.MaxAttempts = 1e6 }, "max_attempts is 1000000: want 1 to 100"},
		{"negative timeout", func(s *mr.JobSpec) { s.Timeout = -1 }, "timeout is -1ns: want 1s to 168h0m0s"},
		{"short timeout", func(s *mr.JobSpec) { s.Timeout = time.Millisecond }, "timeout is 1ms: want 1s"},
		{"negative skipped records", func(s *mr.JobSpec) { s.MaxSkippedRecords = -1 }, "max_skipped_records is -1"},
		{"many skipped records", func(s *mr.JobSpec) { s.MaxSkippedRecords = 1e9 }, "max_skipped_records is 1000000000: want 1 to 10000"},
		{"speculation after NaN", func(s *mr.JobSpec) { s.SpeculationAfter = math.NaN() }, "speculation_after is NaN"},
		{"speculation slowdown infinite", func(s *mr.JobSpec) { s.SpeculationSlowdown = math.Inf(1) }, "speculation_slowdown is +Inf: want 1 to 1000"},
		{"many inputs", func(s *mr.JobSpec) { s.Inputs = make([]mr.Input, mr.MaxInputs+1) }, "inputs are 10001: want at most 10000"},
		{"object and path", func(s *mr.JobSpec) { s.Inputs[0].Path = "/x" }, "not both"},
		{"unnamed input", func(s *mr.JobSpec) { s.Inputs[0].Name = "" }, "inputs[0].name is missing"},
		{"input name with a newline", func(s *mr.JobSpec) { s.Inputs[0].Name = "a\nb" }, `inputs[0].name "a\nb": want printable UTF-8`},
		{"long input name", func(s *mr.JobSpec) { s.Inputs[0].Name = strings.Repeat("a", 256) }, "inputs[0].name is 256 bytes: want at most 255"},
		{"negative size", func(s *mr.JobSpec) { s.Inputs[0].Size = -1 }, "inputs[0].size is -1: want 0 to 1099511627776 bytes"},
		{"huge size", func(s *mr.JobSpec) { s.Inputs[0].Size = math.MaxInt64 }, "inputs[0].size is 9223372036854775807"},
		{"offset past the bound", func(s *mr.JobSpec) { s.Inputs[0].Offset = mr.MaxInputSize }, "inputs[0].offset is 1099511627776"},
		{"bad digest", func(s *mr.JobSpec) { s.Inputs[0].Digest = "ABC" }, `inputs[0].digest "ABC": want a SHA-256`},
		{"object of another digest", func(s *mr.JobSpec) { s.Inputs[0].Object = mr.InputObject(strings.Repeat("cd", 32)) }, "inputs[0].object"},
		{"object outside the inputs", func(s *mr.JobSpec) { s.Inputs[0].Object, s.Inputs[0].Digest = "jobs/other/reduce/0/1-ab/out", "" },
			`inputs[0].object "jobs/other/reduce/0/1-ab/out": want inputs/`},
		{"relative path", func(s *mr.JobSpec) { s.Inputs[0].Object, s.Inputs[0].Path = "", "etc/passwd" }, `inputs[0].path "etc/passwd": want an absolute, clean path`},
		{"path with dot-dot", func(s *mr.JobSpec) { s.Inputs[0].Object, s.Inputs[0].Path = "", "/data/../etc/passwd" }, "want an absolute, clean path"},
		{"path with a newline", func(s *mr.JobSpec) { s.Inputs[0].Object, s.Inputs[0].Path = "", "/data/a\nb" }, "want printable UTF-8"},
		{"long path", func(s *mr.JobSpec) { s.Inputs[0].Object, s.Inputs[0].Path = "", "/"+strings.Repeat("a", mr.MaxPathLen) }, "inputs[0].path is 4097 bytes"},
		{"too many map tasks", func(s *mr.JobSpec) {
			s.SplitSize = mr.MinSplitSize
			s.Inputs[0] = mr.Input{Name: "big", Path: "/big", Size: mr.MaxInputSize}
		}, "inputs make more than 100000 map tasks at split size 1024: use a larger split size"},
		{"too many map outputs", func(s *mr.JobSpec) {
			s.SplitSize, s.R = mr.MinSplitSize, mr.MaxR
			s.Inputs[0] = mr.Input{Name: "big", Path: "/big", Size: 1001 * mr.MinSplitSize}
		}, "r is 10000 with 1001 map tasks: want map tasks times R at most 10000000"},
		{"big spec", func(s *mr.JobSpec) {
			for range 5000 {
				s.Inputs = append(s.Inputs, mr.Input{Name: strings.Repeat("n", 100), Path: "/" + strings.Repeat("p", 100)})
			}
		}, "bytes encoded: want at most 524288"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.change(&s)
			err := s.Validate(registry(t))
			var se *mr.SpecError
			if !errors.Is(err, mr.ErrInvalidSpec) || !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate() = %v, want a *SpecError about %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") || len(err.Error()) > 400 {
				t.Errorf("Validate() = %q: want one short line", err)
			}
		})
	}
	s := good()
	if err := s.Validate(registry(t)); err != nil {
		t.Fatal(err)
	}
	if s.SplitSize != mr.DefaultSplitSize || s.MaxAttempts != mr.DefaultMaxAttempts || s.Timeout != mr.DefaultTaskTimeout ||
		s.MaxSkippedRecords != mr.DefaultMaxSkippedRecords {
		t.Errorf("defaults not filled in: %+v", s)
	}
	// The bounds themselves are allowed.
	s = good()
	s.R, s.SplitSize, s.MaxAttempts, s.Timeout, s.MaxSkippedRecords = mr.MaxR, mr.MaxSplitSize, mr.MaxAttemptsCeiling, mr.MaxTimeout, mr.MaxSkippedRecordsCeiling
	s.App, s.Args = "streaming", []string{strings.Repeat("x", mr.MaxArgLen), strings.Repeat("y", mr.MaxArgLen)}
	s.Inputs = append(s.Inputs, mr.Input{Name: strings.Repeat("n", mr.MaxInputNameLen), Path: "/" + strings.Repeat("p", mr.MaxPathLen-1), Size: 399 * mr.MaxSplitSize})
	if err := s.Validate(registry(t)); err != nil {
		t.Errorf("Validate() of a spec at every bound = %v", err)
	}
}

func TestMapSplits(t *testing.T) {
	s := mr.JobSpec{SplitSize: 10, Inputs: []mr.Input{{Path: "a", Size: 25}, {Path: "b", Size: 0}, {Object: "c", Size: 30}}}
	got := s.MapSplits()
	want := []mr.MapSplit{
		{Input: 0, Split: mr.Split{Start: 0, End: 10}}, {Input: 0, Split: mr.Split{Start: 10, End: 20}}, {Input: 0, Split: mr.Split{Start: 20, End: 25}},
		{Input: 1, Split: mr.Split{}},
		{Input: 2, Split: mr.Split{Start: 0, End: 30}}, // an object is one split
	}
	if len(got) != len(want) {
		t.Fatalf("MapSplits() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("MapSplits()[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestEnsureIsIdempotent(t *testing.T) {
	b := brokertest.Start(t)
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for range 2 {
		if _, err := mr.Ensure(ctx, js, mr.StoreConfig{Lease: 2 * time.Second}); err != nil {
			t.Fatalf("Ensure: %v", err)
		}
	}
	store, err := mr.Ensure(ctx, js, mr.StoreConfig{})
	if err != nil {
		t.Fatal(err)
	}
	// A task reaches the workers' consumer, once however often it is published.
	for i := range 2 {
		ack, err := js.Publish(ctx, mr.TaskSubject("j", mr.PhaseReduce, 3), []byte("{}"), jetstream.WithMsgID(mr.MsgID("j", mr.PhaseReduce, 3, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if ack.Duplicate != (i == 1) {
			t.Errorf("publish %d: Duplicate = %v", i+1, ack.Duplicate)
		}
	}
	// The consumer's count follows the stream's a moment later.
	var info *jetstream.ConsumerInfo
	brokertest.WaitFor(t, 10*time.Second, func() bool {
		info, err = store.Workers.Info(ctx)
		return err == nil && info.NumPending > 0
	}, "the task to reach the workers' consumer")
	// The first to create the consumer set its lease; later callers with
	// other defaults do not change it.
	if info.NumPending != 1 || info.Config.AckWait != 2*time.Second || store.Lease != 2*time.Second {
		t.Errorf("workers' consumer: %d pending, AckWait %v, store lease %v; want 1 and 2s", info.NumPending, info.Config.AckWait, store.Lease)
	}
}
