package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/worker"
)

type env struct {
	t     *testing.T
	ctx   context.Context
	store *mr.Store
	apps  *mr.Registry
}

func setup(t *testing.T, workers int, extra ...mr.App) *env {
	t.Helper()
	ctx, _, store := mrtest.Start(t, 3*time.Second)
	reg := mrtest.Registry()
	for _, app := range extra {
		reg.Register(app.Name(), func([]string) (mr.App, error) { return app, nil })
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, workers)
	for range workers {
		// The tests' inputs are in their temporary directories.
		w, err := worker.New(store, worker.Config{Slots: 2, Apps: reg, Logger: slog.New(slog.DiscardHandler), SharedRoots: []string{os.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.Run(runCtx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		stop()
		for range workers {
			<-done
		}
	})
	return &env{t: t, ctx: ctx, store: store, apps: reg}
}

// publish sends attempt 1 of a task, as the master does.
func (e *env) publish(task mr.Task) {
	e.t.Helper()
	task.Attempt = 1
	e.publishAs(task, mr.MsgID(task.Job, task.Phase, task.Index, task.Attempt))
}

func (e *env) publishAs(task mr.Task, msgID string) {
	e.t.Helper()
	data, _ := json.Marshal(task)
	subject := mr.TaskSubject(task.Job, task.Phase, task.Index)
	if task.App == mr.StreamingApp { // as the master routes it
		subject = mr.ExecTaskSubject(task.Job, task.Phase, task.Index)
	}
	if _, err := e.store.JS.Publish(e.ctx, subject, data, jetstream.WithMsgID(msgID)); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) commit(job string, phase mr.Phase, n int) (mr.Commit, bool) {
	entry, err := e.store.Commits.Get(e.ctx, mr.CommitKey(job, phase, n))
	if err != nil {
		return mr.Commit{}, false
	}
	var c mr.Commit
	json.Unmarshal(entry.Value(), &c)
	return c, true
}

func (e *env) waitCommits(job string, phase mr.Phase, n int) []mr.Commit {
	e.t.Helper()
	commits := make([]mr.Commit, n)
	brokertest.WaitFor(e.t, time.Minute, func() bool {
		for i := range n {
			c, ok := e.commit(job, phase, i)
			if !ok {
				return false
			}
			commits[i] = c
		}
		return true
	}, "%d %s commits", n, phase)
	return commits
}

// TestWordCountEndToEnd runs a wordcount through two workers, playing the
// master by hand, and compares the output with the sequential count.
func TestWordCountEndToEnd(t *testing.T) {
	paths, inputs := mrtest.Books(t)
	paths, inputs = paths[:3], inputs[:3]
	e := setup(t, 2)
	spec := mr.JobSpec{ID: "wc", App: "wordcount", R: 3, SplitSize: 128 << 10}
	for i, p := range paths {
		data := inputs[i].Data
		in := mr.Input{Name: filepath.Base(p), Path: p, Size: int64(len(data))}
		if i == 0 { // one input from the object store
			in = mr.Input{Name: filepath.Base(p), Object: mr.InputObject("book0"), Size: int64(len(data))}
			if _, err := e.store.Inputs.PutBytes(e.ctx, in.Object, data); err != nil {
				t.Fatal(err)
			}
		}
		spec.Inputs = append(spec.Inputs, in)
	}
	if err := spec.Validate(e.apps); err != nil {
		t.Fatal(err)
	}
	splits := spec.MapSplits()
	for n, s := range splits {
		e.publish(mr.Task{Job: spec.ID, Phase: mr.PhaseMap, Index: n, App: spec.App, R: spec.R, Timeout: time.Minute,
			Input: &spec.Inputs[s.Input], Split: s.Split})
	}
	maps := e.waitCommits(spec.ID, mr.PhaseMap, len(splits))
	for r := range spec.R {
		e.publish(mr.Task{Job: spec.ID, Phase: mr.PhaseReduce, Index: r, App: spec.App, R: spec.R, Timeout: time.Minute, Maps: len(splits)})
	}
	reduces := e.waitCommits(spec.ID, mr.PhaseReduce, spec.R)

	app, _ := e.apps.New("wordcount", nil)
	want, err := mr.Sequential(e.ctx, app, inputs, spec.R)
	if err != nil {
		t.Fatal(err)
	}
	var counters mr.Counters
	for r, c := range reduces {
		got, err := e.store.Data.GetBytes(e.ctx, c.Outputs[0])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[r]) {
			t.Errorf("partition %d: %d bytes, want %d identical to the sequential count", r, len(got), len(want[r]))
		}
		counters.Add(c.Counters)
	}
	for _, c := range maps {
		counters.Add(c.Counters)
	}
	if counters.CombineInputRecords <= counters.CombineOutputRecords || counters.MapInputRecords == 0 {
		t.Errorf("counters %+v: the combiner did not combine", counters)
	}
}

// TestMapCountersMatchTheInput: a word count of a file of N lines with no
// final newline, cut into splits, counts N map input records and the
// file's size in map input bytes.
func TestMapCountersMatchTheInput(t *testing.T) {
	e := setup(t, 2)
	const lines = 1000
	var text strings.Builder
	for i := range lines {
		if i > 0 {
			text.WriteString("\n")
		}
		fmt.Fprintf(&text, "line %d of the input", i)
	}
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte(text.String()), 0o644)
	size := int64(text.Len())
	spec := mr.JobSpec{ID: "counted", App: "wordcount", R: 2, SplitSize: 4 << 10,
		Inputs: []mr.Input{{Name: "in.txt", Path: path, Size: size}}}
	if err := spec.Validate(e.apps); err != nil {
		t.Fatal(err)
	}
	splits := spec.MapSplits()
	for n, s := range splits {
		e.publish(mr.Task{Job: spec.ID, Phase: mr.PhaseMap, Index: n, App: spec.App, R: spec.R, Timeout: time.Minute,
			Input: &spec.Inputs[s.Input], Split: s.Split})
	}
	var c mr.Counters
	for _, commit := range e.waitCommits(spec.ID, mr.PhaseMap, len(splits)) {
		c.Add(commit.Counters)
	}
	if len(splits) < 2 || c.MapInputRecords != lines || c.MapInputBytes != size || c.MapOutputRecords != 4*lines {
		t.Errorf("%d maps counted %v; want %d map input records, %d map input bytes, %d map output records",
			len(splits), c, lines, size, 4*lines)
	}
}

// TestFailingMapReportsAndCommitsNothing: a map that fails leaves no
// commit and no output, and says why in a failed event.
func TestFailingMapReportsAndCommitsNothing(t *testing.T) {
	e := setup(t, 1)
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("some text\n"), 0o644)
	e.publish(mr.Task{Job: "bad", Phase: mr.PhaseMap, Index: 0, App: "failing", R: 2, Timeout: time.Minute,
		Input: &mr.Input{Name: "in.txt", Path: path, Size: 10}, Split: mr.Split{End: 10}})

	cons, err := e.store.Events.OrderedConsumer(e.ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{mr.EventSubject("bad", mr.EventFailed)}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
	if err != nil {
		t.Fatalf("no failed event: %v", err)
	}
	var ev mr.Event
	json.Unmarshal(msg.Data(), &ev)
	if ev.Attempt != 1 || !bytes.Contains([]byte(ev.Error), []byte("always fails")) || !bytes.Contains([]byte(ev.Error), []byte("in.txt byte 0")) {
		t.Errorf("failed event %+v, want attempt 1 naming the record and the error", ev)
	}
	if _, ok := e.commit("bad", mr.PhaseMap, 0); ok {
		t.Error("a failed map committed")
	}
	lister, err := e.store.Data.List(e.ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		t.Fatal(err)
	}
	if len(lister) != 0 {
		t.Errorf("a failed map left %d objects", len(lister))
	}
}

// TestPathOutsideSharedRootsFails: a map task naming a file outside the
// worker's shared roots, as a hostile client's job may, fails at once
// saying so, reads nothing and writes nothing.
func TestPathOutsideSharedRootsFails(t *testing.T) {
	e := setup(t, 1)
	st, err := os.Stat("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	e.publish(mr.Task{Job: "steal", Phase: mr.PhaseMap, Index: 0, App: "grep", Args: []string{".+"}, R: 1, Timeout: time.Minute,
		Input: &mr.Input{Name: "passwd", Path: "/etc/passwd", Size: st.Size()}, Split: mr.Split{End: st.Size()}})
	cons, err := e.store.Events.OrderedConsumer(e.ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{mr.EventSubject("steal", mr.EventFailed)}})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := cons.Next(jetstream.FetchMaxWait(30 * time.Second))
	if err != nil {
		t.Fatalf("no failed event: %v", err)
	}
	var ev mr.Event
	json.Unmarshal(msg.Data(), &ev)
	if want := "input /etc/passwd is outside the worker's --shared-root directories"; ev.Error != want {
		t.Errorf("failed event's error %q, want %q", ev.Error, want)
	}
	if _, ok := e.commit("steal", mr.PhaseMap, 0); ok {
		t.Error("a map of a file outside the shared roots committed")
	}
	if objects, _ := e.store.Data.List(e.ctx); len(objects) != 0 {
		t.Errorf("a map of a file outside the shared roots left %d objects", len(objects))
	}
}

// meeting is wordcount whose maps wait until two executions are mapping.
type meeting struct {
	apps.WordCount
	pair *sync.WaitGroup // of two
}

func (meeting) Name() string { return "meeting" }

func (m meeting) MapSplit(ctx context.Context, recs iter.Seq2[mr.Record, error], emit mr.Emit) error {
	m.pair.Done()
	m.pair.Wait()
	for rec, err := range recs {
		if err != nil {
			return err
		}
		if err := m.Map(ctx, rec, emit); err != nil {
			return err
		}
	}
	return nil
}

// TestOneAttemptRunTwice: the queue hands one attempt to two workers at
// once, as after a redelivery or a master's failover. One commits; the
// other, losing, removes its own output and not the winner's.
func TestOneAttemptRunTwice(t *testing.T) {
	var pair sync.WaitGroup
	pair.Add(2)
	e := setup(t, 2, meeting{pair: &pair})
	path := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(path, []byte("the cat\nthe hat\n"), 0o644)
	task := mr.Task{Job: "twice", Phase: mr.PhaseMap, Index: 0, Attempt: 1, App: "meeting", R: 2, Timeout: time.Minute,
		Input: &mr.Input{Name: "in.txt", Path: path, Size: 16}, Split: mr.Split{End: 16}}
	e.publishAs(task, "first")
	e.publishAs(task, "again")
	commit := e.waitCommits("twice", mr.PhaseMap, 1)[0]
	brokertest.WaitFor(t, time.Minute, func() bool {
		info, err := e.store.Workers.Info(e.ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}, "both executions to end")
	for _, name := range commit.Objects() {
		if _, err := e.store.Data.GetInfo(e.ctx, name); err != nil {
			t.Errorf("the winner's output %s: %v", name, err)
		}
	}
	objects, _ := e.store.Data.List(e.ctx)
	if len(objects) != len(commit.Objects()) {
		t.Errorf("%d objects, want only the winner's %d", len(objects), len(commit.Objects()))
	}
}

// leftIn lists the files tasks left under a worker's TempDir: anything but
// the lock of each running worker's scratch directory.
func leftIn(tmp string) []string {
	var left []string
	filepath.WalkDir(tmp, func(path string, d os.DirEntry, err error) error {
		if rel, _ := filepath.Rel(tmp, path); err == nil && !d.IsDir() && filepath.Base(rel) != "lock" {
			left = append(left, rel)
		}
		return nil
	})
	return left
}
