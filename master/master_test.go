package master_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/worker"
)

type cluster struct {
	ctx    context.Context
	broker *brokertest.Server
	store  *mr.Store
	apps   *mr.Registry
	client *rpcq.Client
	master *master.Master
}

// start runs a master and workers on an embedded broker until t ends.
func start(t *testing.T, workers int, extra ...mr.App) *cluster {
	return startWith(t, workers, master.Config{}, extra...)
}

// startWith is start with a master configured by cfg; its Apps, Tick and
// Logger are the test's.
func startWith(t *testing.T, workers int, cfg master.Config, extra ...mr.App) *cluster {
	t.Helper()
	c := prepare(t, nil, extra...)
	c.startMaster(t, workers, cfg)
	return c
}

// prepare makes a broker, configured by bcfg if not nil, with the
// protocol's resources and a client, for a master not yet started.
func prepare(t *testing.T, bcfg *broker.Config, extra ...mr.App) *cluster {
	t.Helper()
	var cfgs []broker.Config
	if bcfg != nil {
		cfgs = append(cfgs, *bcfg)
	}
	ctx, b, store := mrtest.Start(t, 3*time.Second, cfgs...)
	reg := mrtest.Registry()
	for _, app := range extra {
		reg.Register(app.Name(), func([]string) (mr.App, error) { return app, nil })
	}
	client, err := rpcq.NewClient(b.Connect(), rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &cluster{ctx: ctx, broker: b, store: store, apps: reg, client: client}
}

// startMaster runs a master configured by cfg (its Apps and Tick are the
// test's, its Logger too unless set) and workers until t ends, or until the stop it returns
// is called.
func (c *cluster) startMaster(t *testing.T, workers int, cfg master.Config) (stop func()) {
	t.Helper()
	quiet := slog.New(slog.DiscardHandler)
	cfg.Apps, cfg.Tick, cfg.Logger = c.apps, 50*time.Millisecond, cmp.Or(cfg.Logger, quiet)
	m, err := master.New(c.broker.Connect(), c.store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{}, workers+1)
	go func() { m.Run(runCtx); done <- struct{}{} }()
	for range workers {
		w, err := worker.New(c.store, worker.Config{Slots: 2, Apps: c.apps, Logger: quiet, SharedRoots: []string{os.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.Run(runCtx); done <- struct{}{} }()
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			for range workers + 1 {
				<-done
			}
		})
	}
	t.Cleanup(stop)
	c.master = m
	return stop
}

func (c *cluster) submit(t *testing.T, spec mr.JobSpec) string {
	t.Helper()
	var reply master.SubmitReply
	if err := c.client.Call(c.ctx, "Master.Submit", master.SubmitArgs{Spec: spec}, &reply); err != nil {
		t.Fatal(err)
	}
	return reply.ID
}

func (c *cluster) wait(t *testing.T, id string) master.JobStatus {
	t.Helper()
	var st master.JobStatus
	brokertest.WaitFor(t, time.Minute, func() bool {
		if err := c.client.Call(c.ctx, "Master.Status", master.JobArgs{ID: id}, &st); err != nil {
			t.Fatal(err)
		}
		return st.State.Ended()
	}, "job %s to end", id)
	return st
}

func TestWordCountJob(t *testing.T) {
	paths, inputs := mrtest.Books(t)
	c := start(t, 2)
	spec := mr.JobSpec{App: "wordcount", R: 3, SplitSize: 256 << 10}
	for i, p := range paths {
		spec.Inputs = append(spec.Inputs, mr.Input{Name: inputs[i].Name, Path: p, Size: int64(len(inputs[i].Data))})
	}
	st := c.wait(t, c.submit(t, spec))
	if st.State != master.JobDone {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}
	if st.MapsDone != st.Maps || st.ReduceDone != 3 || len(st.Outputs) != 3 {
		t.Fatalf("status %+v", st)
	}
	app, _ := c.apps.New("wordcount", nil)
	want, err := mr.Sequential(c.ctx, app, inputs, 3)
	if err != nil {
		t.Fatal(err)
	}
	for r, name := range st.Outputs {
		got, err := c.store.Data.GetBytes(c.ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[r]) {
			t.Errorf("partition %d: %d bytes, want %d identical to the sequential count", r, len(got), len(want[r]))
		}
	}
	if st.Counters.MapInputRecords == 0 || st.Counters.CombineOutputRecords >= st.Counters.CombineInputRecords {
		t.Errorf("counters %+v", st.Counters)
	}
}

func TestFailingJobFailsWithItsError(t *testing.T) {
	c := start(t, 1)
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("text\n"), 0o644)
	id := c.submit(t, mr.JobSpec{App: "failing", R: 1, Inputs: []mr.Input{{Name: "in.txt", Path: path, Size: 5}}})
	st := c.wait(t, id)
	if st.State != master.JobFailed || !strings.Contains(st.Error, "always fails") || !strings.Contains(st.Error, "4 times") {
		t.Fatalf("job ended %s %q, want failed after 4 attempts with the mapper's error", st.State, st.Error)
	}
}

func TestSubmitRejectsBadSpecs(t *testing.T) {
	c := start(t, 0)
	var reply master.SubmitReply
	err := c.client.Call(c.ctx, "Master.Submit", master.SubmitArgs{Spec: mr.JobSpec{App: "nope", R: 1}}, &reply)
	if !errors.Is(err, rpcq.ErrBadRequest) {
		t.Fatalf("Submit of a bad spec = %v, want a 400", err)
	}
}

// holding is wordcount whose maps of the input "hold.txt" wait for release.
type holding struct {
	apps.WordCount
	release chan struct{}
}

func (holding) Name() string { return "holding" }

func (h holding) Map(ctx context.Context, rec mr.Record, emit mr.Emit) error {
	if rec.Input == "hold.txt" {
		<-h.release
	}
	return h.WordCount.Map(ctx, rec, emit)
}

// TestLostMapOutputIsRecomputed: a committed map output deleted mid-job is
// noticed by the reduce that reads it; that one map runs again, the reduces
// that lost it run again, and the output is still right.
func TestLostMapOutputIsRecomputed(t *testing.T) {
	app := holding{release: make(chan struct{})}
	c := start(t, 2, app)
	dir := t.TempDir()
	texts := map[string]string{"a.txt": "the cat sat\non the mat\n", "b.txt": "the dog\nate the cat\n", "hold.txt": "the end\n"}
	spec := mr.JobSpec{App: "holding", R: 2}
	var inputs []mr.NamedInput
	for _, name := range []string{"a.txt", "b.txt", "hold.txt"} {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(texts[name]), 0o644)
		spec.Inputs = append(spec.Inputs, mr.Input{Name: name, Path: path, Size: int64(len(texts[name]))})
		inputs = append(inputs, mr.NamedInput{Name: name, Data: []byte(texts[name])})
	}
	id := c.submit(t, spec)

	// Maps 0 and 1 commit; map 2 holds. Delete map 0's outputs.
	brokertest.WaitFor(t, time.Minute, func() bool {
		var st master.JobStatus
		c.client.Call(c.ctx, "Master.Status", master.JobArgs{ID: id}, &st)
		return st.MapsDone == 2
	}, "maps 0 and 1 to commit")
	entry, err := c.store.Commits.Get(c.ctx, mr.CommitKey(id, mr.PhaseMap, 0))
	if err != nil {
		t.Fatal(err)
	}
	var commit mr.Commit
	json.Unmarshal(entry.Value(), &commit)
	for _, name := range commit.Objects() {
		if err := c.store.Data.Delete(c.ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	close(app.release)

	st := c.wait(t, id)
	if st.State != master.JobDone {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}
	want, _ := mr.Sequential(c.ctx, apps.WordCount{}, inputs, 2)
	for r, name := range st.Outputs {
		got, err := c.store.Data.GetBytes(c.ctx, name)
		if err != nil || !bytes.Equal(got, want[r]) {
			t.Errorf("partition %d = %q (%v), want %q", r, got, err, want[r])
		}
	}
	if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "map 0 ran again") {
		t.Errorf("status notes %q, want one saying map 0 ran again", st.Notes)
	}
	if entry, _ := c.store.Commits.Get(c.ctx, mr.CommitKey(id, mr.PhaseMap, 0)); entry == nil {
		t.Error("map 0 has no commit")
	} else if json.Unmarshal(entry.Value(), &commit); commit.Attempt != 2 {
		t.Errorf("map 0 committed attempt %d, want 2", commit.Attempt)
	}
	for _, n := range []int{1, 2} {
		if entry, err := c.store.Commits.Get(c.ctx, mr.CommitKey(id, mr.PhaseMap, n)); err == nil {
			json.Unmarshal(entry.Value(), &commit)
			if commit.Attempt != 1 {
				t.Errorf("map %d ran again (attempt %d): only map 0 should", n, commit.Attempt)
			}
		}
	}
}

// poisoned is wordcount that panics on the line "POISON".
type poisoned struct{ apps.WordCount }

func (poisoned) Name() string { return "poisoned" }

func (p poisoned) Map(ctx context.Context, rec mr.Record, emit mr.Emit) error {
	if rec.Text == "POISON" {
		panic("cannot count this")
	}
	return p.WordCount.Map(ctx, rec, emit)
}

// TestBadRecords: a map that panics on one record fails its attempts with
// the record's position; with SkipBadRecords, the third attempt skips it
// and the job says so; without, the job fails naming the record.
func TestBadRecords(t *testing.T) {
	c := start(t, 1, poisoned{})
	text := "good words\nPOISON\nmore good words\n"
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte(text), 0o644)
	spec := mr.JobSpec{App: "poisoned", R: 1, Inputs: []mr.Input{{Name: "in.txt", Path: path, Size: int64(len(text))}}}

	skipping := spec
	skipping.SkipBadRecords = true
	st := c.wait(t, c.submit(t, skipping))
	if st.State != master.JobDone {
		t.Fatalf("job skipping bad records ended %s: %s", st.State, st.Error)
	}
	if len(st.Notes) != 1 || !strings.Contains(st.Notes[0], "skipped the bad record at in.txt byte 11") {
		t.Errorf("notes %q, want the skipped record named", st.Notes)
	}
	out, _ := c.store.Data.GetBytes(c.ctx, st.Outputs[0])
	if string(out) != "good 2\nmore 1\nwords 2\n" {
		t.Errorf("output %q", out)
	}

	st = c.wait(t, c.submit(t, spec))
	if st.State != master.JobFailed || !strings.Contains(st.Error, "record at in.txt byte 11") || !strings.Contains(st.Error, "cannot count this") {
		t.Fatalf("job without skipping ended %s %q, want failed naming the record", st.State, st.Error)
	}
}

// TestSkippingSeveralBadRecords: sum over logs with three malformed lines
// in one split. Skipping them takes two failed attempts each, more than
// MaxAttempts, yet the job finishes, lists them, and counts them; a job
// that may skip only two fails saying so.
func TestSkippingSeveralBadRecords(t *testing.T) {
	c := start(t, 1)
	lines := []string{"host1 10", "host2 5", "this line is malformed", "host1 7", "host2 x", "", "host3 1 2", "host3 4"}
	text := strings.Join(lines, "\n")
	path := filepath.Join(t.TempDir(), "logs.txt")
	os.WriteFile(path, []byte(text), 0o644)
	spec := mr.JobSpec{App: "sum", R: 1, SkipBadRecords: true, Inputs: []mr.Input{{Name: "logs.txt", Path: path, Size: int64(len(text))}}}

	st := c.wait(t, c.submit(t, spec))
	if st.State != master.JobDone {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}
	var want []string
	for _, bad := range []int{2, 4, 6} {
		offset := len(strings.Join(lines[:bad], "\n")) + 1
		want = append(want, fmt.Sprintf("map 0 skipped the bad record at logs.txt byte %d", offset))
	}
	if !slices.Equal(st.Notes, want) {
		t.Errorf("notes %q, want %q", st.Notes, want)
	}
	if out, _ := c.store.Data.GetBytes(c.ctx, st.Outputs[0]); string(out) != "host1 17\nhost2 5\nhost3 4\n" {
		t.Errorf("output %q", out)
	}
	if got := st.Counters; got.MapSkippedRecords != 3 || got.MapInputRecords != int64(len(lines)-3) || got.MapInputBytes != int64(len(text)) {
		t.Errorf("counters %v; want 3 skipped records, %d input records, %d input bytes", got, len(lines)-3, len(text))
	}

	spec.MaxSkippedRecords = 2
	st = c.wait(t, c.submit(t, spec))
	if st.State != master.JobFailed || !strings.Contains(st.Error, "more bad records than the 2 a task may skip") ||
		!strings.Contains(st.Error, fmt.Sprintf("record at logs.txt byte %d", len(strings.Join(lines[:6], "\n"))+1)) {
		t.Errorf("job that may skip 2 of 3 bad records ended %s %q, want failed saying so and naming the third", st.State, st.Error)
	}
}

// addWorker runs one more worker with cfg (Apps set here) until t ends.
func (c *cluster) addWorker(t *testing.T, cfg worker.Config) {
	t.Helper()
	cfg.Apps, cfg.Logger, cfg.SharedRoots = c.apps, slog.New(slog.DiscardHandler), []string{os.TempDir()}
	w, err := worker.New(c.store, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(c.ctx)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
}

// TestSpeculation: a worker 1,000 times slower than its peer takes a map;
// near the end of the map phase the master launches a backup, the fast
// worker runs it and wins, the straggler stops, and the output is right.
func TestSpeculation(t *testing.T) {
	c := start(t, 0)
	c.addWorker(t, worker.Config{ID: "slow", SlowFactor: 1000})
	dir := t.TempDir()
	spec := mr.JobSpec{App: "wordcount", R: 1, Speculation: true}
	var inputs []mr.NamedInput
	for i := range 8 {
		name := fmt.Sprintf("in%d.txt", i)
		text := strings.Repeat(fmt.Sprintf("word%d ", i), 2000) + "\n"
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
		spec.Inputs = append(spec.Inputs, mr.Input{Name: name, Path: filepath.Join(dir, name), Size: int64(len(text))})
		inputs = append(inputs, mr.NamedInput{Name: name, Data: []byte(text)})
	}
	id := c.submit(t, spec)
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		info, err := c.store.Workers.Info(c.ctx)
		return err == nil && info.NumAckPending > 0
	}, "the slow worker to take a task")
	c.addWorker(t, worker.Config{ID: "fast"})

	st := c.wait(t, id)
	if st.State != master.JobDone {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}
	if st.Backups.Launched < 1 || st.Backups.Won < 1 {
		t.Errorf("backups %+v, want one launched and won", st.Backups)
	}
	want, _ := mr.Sequential(c.ctx, apps.WordCount{}, inputs, 1)
	if got, err := c.store.Data.GetBytes(c.ctx, st.Outputs[0]); err != nil || !bytes.Equal(got, want[0]) {
		t.Errorf("output differs from the sequential count (%v)", err)
	}
}

// TestProgressKeepsTheLastReport: a slow task reports its progress many
// times; the progress stream keeps the last report of each task alone,
// and the event log, which a starting master reads whole, none.
func TestProgressKeepsTheLastReport(t *testing.T) {
	c := start(t, 1, pausing{4 * mr.ProgressEvery})
	dir := t.TempDir()
	spec := mr.JobSpec{App: pausing{}.Name(), R: 1}
	for i := range 2 {
		name := fmt.Sprintf("in%d.txt", i)
		text := fmt.Sprintf("word%d\n", i)
		os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644)
		spec.Inputs = append(spec.Inputs, mr.Input{Name: name, Path: filepath.Join(dir, name), Size: int64(len(text))})
	}
	id := c.submit(t, spec)
	if st := c.wait(t, id); st.State != master.JobDone {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}
	progress, err := c.store.Progress.Info(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	tasks := uint64(len(spec.Inputs) + spec.R)
	if progress.State.Msgs == 0 || progress.State.Msgs > tasks {
		t.Errorf("progress stream holds %d reports, want 1 to %d: one per task", progress.State.Msgs, tasks)
	}
	if progress.State.LastSeq <= tasks {
		t.Errorf("%d progress reports in all, want more than one per task for this test to mean anything", progress.State.LastSeq)
	}
	events, err := c.store.Events.Info(c.ctx, jetstream.WithSubjectFilter(mr.EventSubject(id, mr.EventProgress)))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(events.State.Subjects); n != 0 {
		t.Errorf("event log holds progress of job %s on %d subjects, want none", id, n)
	}
}

// pausing is an app whose map takes its time over each record.
type pausing struct{ pause time.Duration }

func (pausing) Name() string    { return "pausing" }
func (pausing) Version() string { return "1" }
func (p pausing) Map(ctx context.Context, rec mr.Record, emit mr.Emit) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(p.pause):
	}
	return emit(rec.Text, "1")
}
func (pausing) Reduce(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	n := 0
	for range values {
		n++
	}
	return strconv.Itoa(n), nil
}

// flakyReads is a jobs bucket whose reads answer "not found" while fails
// is above zero, as a replica behind its peers answers a direct get after
// a partition.
type flakyReads struct {
	jetstream.KeyValue
	fails *atomic.Int32
}

func (f flakyReads) Get(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, jetstream.ErrKeyNotFound
	}
	return f.KeyValue.Get(ctx, key)
}

// TestRestoreReadsAgain: a master that starts while the record of a job
// its bucket lists reads "not found" reads it again, and knows the job
// when it serves; it never answers that there is no such job.
func TestRestoreReadsAgain(t *testing.T) {
	c := prepare(t, nil)
	stop := c.startMaster(t, 1, master.Config{})
	path := filepath.Join(t.TempDir(), "a.txt")
	text := "the cat sat on the mat\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	id := c.submit(t, mr.JobSpec{App: "wordcount", R: 1, Inputs: []mr.Input{{Name: "a.txt", Path: path, Size: int64(len(text))}}})
	c.wait(t, id)
	stop()

	var fails atomic.Int32
	fails.Store(3)
	flaky := *c.store
	flaky.Jobs = flakyReads{KeyValue: c.store.Jobs, fails: &fails}
	c.store = &flaky
	c.startMaster(t, 0, master.Config{})
	var st master.JobStatus
	brokertest.WaitFor(t, time.Minute, func() bool {
		err := c.client.Call(c.ctx, "Master.Status", master.JobArgs{ID: id}, &st)
		if errors.Is(err, &rpcq.RemoteError{Code: rpcq.CodeUnknownMethod}) {
			t.Fatalf("the new master serves without job %s: %v", id, err)
		}
		return err == nil
	}, "the new master to serve")
	if st.State != master.JobDone {
		t.Errorf("job %s is %s after the restart, want done", id, st.State)
	}
}

// TestLostTaskRequeued: a map's message leaves the queue unrun while the
// master is away, and the master that starts next publishes its first
// attempt again, which the stream drops as a duplicate of the one gone.
// The master finds the task missing from the queue and publishes another
// attempt, and the job ends done.
func TestLostTaskRequeued(t *testing.T) {
	c := prepare(t, nil)
	stop := c.startMaster(t, 0, master.Config{})
	dir := t.TempDir()
	spec := mr.JobSpec{App: "wordcount", R: 1}
	for _, name := range []string{"a.txt", "b.txt"} {
		text := "the cat sat on the mat in " + name + "\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		spec.Inputs = append(spec.Inputs, mr.Input{Name: name, Path: filepath.Join(dir, name), Size: int64(len(text))})
	}
	id := c.submit(t, spec)
	subject := mr.TaskSubject(id, mr.PhaseMap, 1)
	var msg *jetstream.RawStreamMsg
	brokertest.WaitFor(t, time.Minute, func() bool {
		var err error
		msg, err = c.store.Tasks.GetLastMsgForSubject(c.ctx, subject)
		return err == nil
	}, "map 1 to be queued")
	stop()
	if err := c.store.Tasks.DeleteMsg(c.ctx, msg.Sequence); err != nil {
		t.Fatal(err)
	}

	c.startMaster(t, 1, master.Config{})
	if st := c.wait(t, id); st.State != master.JobDone {
		t.Fatalf("job %s ended %s: %s", id, st.State, st.Error)
	}
	// The one attempt published after the first: map 1's, as lost.
	raw, err := c.store.Events.GetLastMsgForSubject(c.ctx, mr.EventSubject(id, mr.EventPublished))
	if err != nil {
		t.Fatalf("no attempt was published again: %v", err)
	}
	var ev mr.Event
	if err := json.Unmarshal(raw.Data, &ev); err != nil || ev.Phase != mr.PhaseMap || ev.Index != 1 || ev.Why != string(master.WhyLost) {
		t.Errorf("the last attempt published again is %+v (%v), want map 1's, as lost", ev, err)
	}
}
