package master_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/worker"
)

type cluster struct {
	ctx    context.Context
	store  *mr.Store
	apps   *mr.Registry
	client *rpcq.Client
}

// start runs a master and workers on an embedded broker until t ends.
func start(t *testing.T, workers int) *cluster {
	t.Helper()
	ctx, b, store := mrtest.Start(t, 3*time.Second)
	reg := mrtest.Registry()
	quiet := slog.New(slog.DiscardHandler)
	m, err := master.New(b.Connect(), store, master.Config{Apps: reg, Tick: 50 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, workers+1)
	go func() { m.Run(runCtx); done <- struct{}{} }()
	for range workers {
		w, err := worker.New(store, worker.Config{Slots: 2, Apps: reg, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.Run(runCtx); done <- struct{}{} }()
	}
	t.Cleanup(func() {
		stop()
		for range workers + 1 {
			<-done
		}
	})
	client, err := rpcq.NewClient(b.Connect(), rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return &cluster{ctx: ctx, store: store, apps: reg, client: client}
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
	paths, _ := filepath.Glob("../../shared/data/gutenberg/*.txt")
	if len(paths) == 0 {
		t.Skip("../../shared/data/gutenberg is absent")
	}
	c := start(t, 2)
	spec := mr.JobSpec{App: "wordcount", R: 3, SplitSize: 256 << 10}
	var inputs []mr.NamedInput
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, mr.NamedInput{Name: filepath.Base(p), Data: data})
		spec.Inputs = append(spec.Inputs, mr.Input{Name: filepath.Base(p), Path: p, Size: int64(len(data))})
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
	if st.Counters.InputRecords == 0 || st.Counters.CombineOut >= st.Counters.CombineIn {
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
