package master_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// pathInput writes text into a file of t's and names it as a job's input.
func pathInput(t *testing.T, text string) mr.Input {
	t.Helper()
	path := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return mr.Input{Name: "in.txt", Path: path, Size: int64(len(text))}
}

// TestSubmitRefusesSpecsOutOfBounds: a spec past any limit is a 400 whose
// one line names the field and its bound, on Submit and SubmitExec alike,
// and nothing of it is stored.
func TestSubmitRefusesSpecsOutOfBounds(t *testing.T) {
	c := prepare(t, &broker.Config{MaxPayload: 8 << 20}) // as the deployment where 3 MB commands went through
	c.startMaster(t, 0, master.Config{})
	in := pathInput(t, "a b a\n")
	tests := []struct {
		name   string
		method string
		spec   mr.JobSpec
		want   string
	}{
		{"R of a billion", mr.MethodSubmit, mr.JobSpec{ID: "r", App: "wordcount", R: 1e9, Inputs: []mr.Input{in}},
			"r is 1000000000: want 1 to 10000 reduce tasks"},
		{"a 3 MB mapper command", mr.MethodSubmitExec, mr.JobSpec{ID: "cmd", App: "streaming", R: 1, Inputs: []mr.Input{in},
			Args: []string{strings.Repeat("x", 3<<20), "cat"}}, "args[0] is 3145728 bytes: want at most 32768"},
		{"split size -1", mr.MethodSubmit, mr.JobSpec{ID: "neg", App: "wordcount", R: 1, SplitSize: -1, Inputs: []mr.Input{in}},
			"split_size is -1: want 1024 to 1073741824 bytes"},
		{"split size 1e12", mr.MethodSubmit, mr.JobSpec{ID: "tera", App: "wordcount", R: 1, SplitSize: 1e12, Inputs: []mr.Input{in}},
			"split_size is 1000000000000: want 1024 to 1073741824 bytes"},
		{"a declared petabyte", mr.MethodSubmit, mr.JobSpec{ID: "peta", App: "wordcount", R: 1,
			Inputs: []mr.Input{{Name: "in.txt", Path: in.Path, Size: 1 << 50}}}, "inputs[0].size is 1125899906842624: want 0 to 1099511627776 bytes"},
		{"many map tasks", mr.MethodSubmit, mr.JobSpec{ID: "maps", App: "wordcount", R: 1, SplitSize: mr.MinSplitSize,
			Inputs: []mr.Input{{Name: "in.txt", Path: in.Path, Size: 1 << 40}}}, "more than 100000 map tasks"},
		{"a relative path", mr.MethodSubmit, mr.JobSpec{ID: "rel", App: "wordcount", R: 1,
			Inputs: []mr.Input{{Name: "passwd", Path: "../../etc/passwd", Size: 1}}}, "inputs[0].path"},
		{"a name with a newline", mr.MethodSubmit, mr.JobSpec{ID: "nl", App: "wordcount", R: 1,
			Inputs: []mr.Input{{Name: "a\nb", Path: in.Path, Size: in.Size}}}, "inputs[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reply master.SubmitReply
			err := c.client.Call(c.ctx, mr.MasterService+"."+tt.method, master.SubmitArgs{Spec: tt.spec}, &reply)
			var re *rpcq.RemoteError
			if !errors.As(err, &re) || re.Code != rpcq.CodeBadRequest || !strings.Contains(re.Message, tt.want) {
				t.Fatalf("%s = %v, want a 400 saying %q", tt.method, err, tt.want)
			}
			if strings.Contains(re.Message, "\n") || len(re.Message) > 300 {
				t.Errorf("%s refused with %q, want one short line", tt.method, re.Message)
			}
			if _, err := c.store.Jobs.Get(c.ctx, tt.spec.ID); err == nil {
				t.Errorf("the refused job %s was stored", tt.spec.ID)
			}
		})
	}
	// Split size 0 is no split size: the default.
	id := c.submit(t, mr.JobSpec{App: "wordcount", R: 1, Inputs: []mr.Input{in}})
	entry, err := c.store.Jobs.Get(c.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct{ Spec mr.JobSpec }
	if json.Unmarshal(entry.Value(), &rec); rec.Spec.SplitSize != mr.DefaultSplitSize {
		t.Errorf("a job without a split size stored split size %d, want the default %d", rec.Spec.SplitSize, mr.DefaultSplitSize)
	}
}

// commander is wordcount that says it runs commands.
type commander struct{ apps.WordCount }

func (commander) Name() string       { return "commander" }
func (commander) RunsCommands() bool { return true }

// TestSubmitExec: a job whose app runs commands is refused by Submit
// with a 403 that says where to send it, and accepted by SubmitExec,
// which takes any other job too.
func TestSubmitExec(t *testing.T) {
	c := start(t, 1, commander{})
	in := pathInput(t, "a b a\n")
	for _, spec := range []mr.JobSpec{
		{App: "streaming", Args: []string{"cat", "cat"}, R: 1, Inputs: []mr.Input{in}},
		{App: "commander", R: 1, Inputs: []mr.Input{in}},
	} {
		var reply master.SubmitReply
		err := c.client.Call(c.ctx, "Master.Submit", master.SubmitArgs{Spec: spec}, &reply)
		want := spec.App + " jobs run commands: submit them with the exec role (Master.SubmitExec)"
		var re *rpcq.RemoteError
		if !errors.Is(err, master.ErrForbidden) || !errors.As(err, &re) || re.Message != want {
			t.Errorf("Submit of a %s job = %v, want a 403 saying %q", spec.App, err, want)
		}
		if err := c.client.Call(c.ctx, "Master.SubmitExec", master.SubmitArgs{Spec: spec}, &reply); err != nil || reply.ID == "" {
			t.Errorf("SubmitExec of a %s job = %q, %v; want it accepted", spec.App, reply.ID, err)
		}
	}
	var reply master.SubmitReply
	if err := c.client.Call(c.ctx, "Master.SubmitExec", master.SubmitArgs{Spec: mr.JobSpec{App: "wordcount", R: 1, Inputs: []mr.Input{in}}}, &reply); err != nil {
		t.Fatalf("SubmitExec of a wordcount job: %v", err)
	}
	if st := c.wait(t, reply.ID); st.State != master.JobDone {
		t.Errorf("wordcount job submitted with SubmitExec ended %s: %s", st.State, st.Error)
	}
	if got := mr.MasterSubject(mr.MethodSubmitExec); got != "rpcq.Master.SubmitExec" {
		t.Errorf("MasterSubject(SubmitExec) = %q, want rpcq.Master.SubmitExec", got)
	}
}

// record is a job record as the master stores it.
type record struct {
	Spec      mr.JobSpec      `json:"spec"`
	Owner     string          `json:"owner,omitempty"`
	State     master.JobState `json:"state"`
	Error     string          `json:"error,omitempty"`
	Submitted int64           `json:"submitted"`
}

// plant stores value under key in the jobs bucket, as a master would.
func (c *cluster) plant(t *testing.T, key string, value any) {
	t.Helper()
	data, ok := value.([]byte)
	if !ok {
		var err error
		if data, err = json.Marshal(value); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.store.Jobs.Put(c.ctx, key, data); err != nil {
		t.Fatal(err)
	}
}

// TestListPages: 250 jobs, each as large as a spec may make it, are
// listed in pages of at most 100 that fit NATS's default max payload of 1
// MiB, newest first, each job once; the old call, with no arguments,
// answers the first page.
func TestListPages(t *testing.T) {
	c := prepare(t, &broker.Config{MaxPayload: 1 << 20})
	const jobs = 250
	in := mr.Input{Name: strings.Repeat("n", mr.MaxInputNameLen), Path: "/" + strings.Repeat("p", mr.MaxPathLen-1)}
	for i := range jobs {
		spec := mr.JobSpec{ID: fmt.Sprintf("job-%03d", i), App: "streaming", R: mr.MaxR, Inputs: []mr.Input{in},
			Args: []string{strings.Repeat("m", mr.MaxArgLen), strings.Repeat("r", mr.MaxArgLen)}}
		if err := spec.ValidateForm(); err != nil {
			t.Fatal(err)
		}
		c.plant(t, spec.ID, record{Spec: spec, State: master.JobFailed, Error: strings.Repeat("e", 4<<10), Submitted: int64(i)})
	}
	c.startMaster(t, 0, master.Config{})

	var ids []string
	var args master.ListArgs
	for pages := 0; ; pages++ {
		var page master.ListPage
		if err := c.client.Call(c.ctx, "Master.ListPage", args, &page); err != nil {
			t.Fatalf("ListPage(%+v): %v", args, err)
		}
		if len(page.Jobs) > master.MaxListLimit {
			t.Errorf("a page of %d jobs, want at most %d", len(page.Jobs), master.MaxListLimit)
		}
		for _, codec := range []rpcq.Codec{rpcq.JSON, rpcq.Msgpack} {
			if data, _ := codec.Marshal(page); len(data) > 1<<20 {
				t.Errorf("a page of %d bytes in %s, want it under 1 MiB", len(data), codec.ContentType())
			}
		}
		for _, st := range page.Jobs {
			ids = append(ids, st.ID)
			if len(st.Error) > 200 || st.Outputs != nil || st.Notes != nil {
				t.Errorf("job %s listed with %d bytes of error, %d outputs, %d notes; want them trimmed", st.ID, len(st.Error), len(st.Outputs), len(st.Notes))
			}
		}
		if page.Next == "" {
			break
		}
		if pages > jobs {
			t.Fatal("ListPage does not end")
		}
		args.After = page.Next
	}
	if len(ids) != jobs {
		t.Fatalf("listed %d jobs, want %d", len(ids), jobs)
	}
	for i, id := range ids {
		if want := fmt.Sprintf("job-%03d", jobs-1-i); id != want {
			t.Fatalf("job %d listed is %s, want %s: newest first, each once", i, id, want)
		}
	}

	// The old call: no arguments, a list.
	var list []master.JobStatus
	if err := c.client.Call(c.ctx, "Master.List", struct{}{}, &list); err != nil || len(list) != master.DefaultListLimit || list[0].ID != ids[0] {
		t.Errorf("List() = %d jobs (%v), want the first page of %d", len(list), err, master.DefaultListLimit)
	}
	if err := c.client.Call(c.ctx, "Master.List", master.ListArgs{Limit: 10, After: ids[9]}, &list); err != nil || len(list) != 10 || list[0].ID != ids[10] {
		t.Errorf("List(10 after the 10th) = %d jobs (%v), want the second page of 10", len(list), err)
	}
	if err := c.client.Call(c.ctx, "Master.ListPage", master.ListArgs{Limit: -1}, &master.ListPage{}); !errors.Is(err, rpcq.ErrBadRequest) {
		t.Errorf("ListPage with limit -1 = %v, want a 400", err)
	}
	if err := c.client.Call(c.ctx, "Master.ListPage", master.ListArgs{After: "nope"}, &master.ListPage{}); !errors.Is(err, rpcq.ErrUnknownMethod) {
		t.Errorf("ListPage after an unknown job = %v, want a 404", err)
	}
}

// syncBuffer is a buffer a logger writes to from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestQuarantine: job records a master cannot load (garbage, a spec
// with R of a billion, one with a negative split size, one whose app's
// constructor panics, one stored under another job's key, one whose
// owner is no user name) are set aside with a warning; the master
// serves, reports them failed as quarantined, runs the other jobs, and
// does the same after a restart, from what it set aside.
func TestQuarantine(t *testing.T) {
	c := prepare(t, nil)
	c.apps.Register("panicky", func([]string) (mr.App, error) { panic("cannot make this app") })
	in := pathInput(t, "a b a\n")
	good := mr.JobSpec{ID: "good", App: "wordcount", R: 1, Inputs: []mr.Input{in}}
	good.ValidateForm()
	c.plant(t, "good", record{Spec: good, State: master.JobDone, Submitted: 1})
	bad := map[string]string{ // key: what its status must say
		"garbage":   "undecodable",
		"huge-r":    "r is 1000000000: want 1 to 10000",
		"neg-split": "split_size is -1",
		"panicky":   "panic: cannot make this app",
		"elsewhere": "stored under elsewhere, the record names job good",
		"bad-owner": `owner "a.b" is not a user name`,
	}
	c.plant(t, "garbage", []byte("\x00\xffnot a record"))
	huge := good
	huge.ID, huge.R = "huge-r", 1e9
	c.plant(t, "huge-r", record{Spec: huge, State: JobMapping, Submitted: 2})
	neg := good
	neg.ID, neg.SplitSize = "neg-split", -1
	c.plant(t, "neg-split", record{Spec: neg, State: master.JobDone, Submitted: 3})
	panicky := good
	panicky.ID, panicky.App = "panicky", "panicky"
	c.plant(t, "panicky", record{Spec: panicky, State: JobMapping, Submitted: 4})
	c.plant(t, "elsewhere", record{Spec: good, State: JobMapping, Submitted: 5})
	badOwner := good
	badOwner.ID = "bad-owner"
	c.plant(t, "bad-owner", record{Spec: badOwner, Owner: "a.b", State: master.JobDone, Submitted: 6})

	var logs syncBuffer
	stop := c.startMaster(t, 1, master.Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	check := func(when string) {
		t.Helper()
		for key, want := range bad {
			var st master.JobStatus
			if err := c.client.Call(c.ctx, "Master.Status", master.JobArgs{ID: key}, &st); err != nil {
				t.Fatalf("%s: Status(%s): %v", when, key, err)
			}
			if st.State != master.JobFailed || !strings.HasPrefix(st.Error, "quarantined: ") || !strings.Contains(st.Error, want) {
				t.Errorf("%s: %s is %s %q, want failed, quarantined: %s", when, key, st.State, st.Error, want)
			}
			if _, err := c.store.Jobs.Get(c.ctx, key); err == nil {
				t.Errorf("%s: the record of %s is still under its key", when, key)
			}
			entry, err := c.store.Jobs.Get(c.ctx, "quarantine."+key)
			if err != nil || !strings.Contains(string(entry.Value()), `"reason"`) {
				t.Errorf("%s: nothing set aside under quarantine.%s (%v)", when, key, err)
			}
		}
		var st master.JobStatus
		if err := c.client.Call(c.ctx, "Master.Status", master.JobArgs{ID: "good"}, &st); err != nil || st.State != master.JobDone {
			t.Errorf("%s: the good job is %s (%v), want done", when, st.State, err)
		}
		var list []master.JobStatus
		if err := c.client.Call(c.ctx, "Master.List", struct{}{}, &list); err != nil || len(list) < len(bad)+1 {
			t.Errorf("%s: List() = %d jobs (%v), want the quarantined ones listed too", when, len(list), err)
		}
		// A new job runs; a quarantined job's ID is not taken again.
		id := c.submit(t, mr.JobSpec{App: "wordcount", R: 1, Inputs: []mr.Input{in}})
		if st := c.wait(t, id); st.State != master.JobDone {
			t.Errorf("%s: a new job ended %s: %s", when, st.State, st.Error)
		}
		var reply master.SubmitReply
		again := good
		again.ID = "huge-r"
		if err := c.client.Call(c.ctx, "Master.Submit", master.SubmitArgs{Spec: again}, &reply); !errors.Is(err, rpcq.ErrBadRequest) {
			t.Errorf("%s: Submit of a job named as a quarantined one = %v, want a 400", when, err)
		}
	}
	check("first start")
	for key := range bad {
		if !strings.Contains(logs.String(), "key="+key) {
			t.Errorf("no warning logged about %s:\n%s", key, logs.String())
		}
	}
	stop()
	c.startMaster(t, 1, master.Config{})
	check("after a restart")
}

// JobMapping is a running job's state in a stored record.
const JobMapping = master.JobMapping

// TestStatusBoundsWhatWorkersSay: a job that skips more records than its
// status can list says how many more there are.
func TestStatusBoundsWhatWorkersSay(t *testing.T) {
	c := start(t, 1, poisoned{})
	var text strings.Builder
	for range 150 {
		text.WriteString("POISON\n")
	}
	spec := mr.JobSpec{App: "poisoned", R: 1, SkipBadRecords: true, MaxSkippedRecords: 200, Inputs: []mr.Input{pathInput(t, text.String())}}
	st := c.wait(t, c.submit(t, spec))
	if st.State != master.JobDone {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}
	if len(st.Notes) != 101 || st.Notes[100] != "and 50 more notes" {
		t.Errorf("status has %d notes, the last %q; want 100 and a count of 50 more", len(st.Notes), st.Notes[len(st.Notes)-1])
	}
}
