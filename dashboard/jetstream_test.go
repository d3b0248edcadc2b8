package dashboard_test

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/dashboard"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/worker"
)

// TestJetStreamSource: the Source of a real broker, master and worker
// reads a finished job's list entry, status, spec, runs and commits, the
// streams, and says a job it does not know is not there.
func TestJetStreamSource(t *testing.T) {
	ctx, b, store := mrtest.Start(t, 3*time.Second)
	quiet := slog.New(slog.DiscardHandler)
	apps := mrtest.Registry()
	m, err := master.New(b.Connect(), store, master.Config{Apps: apps, Logger: quiet, Tick: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(store, worker.Config{ID: "w1", Slots: 2, Apps: apps, Logger: quiet, SharedRoots: []string{os.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	go func() { m.Run(runCtx); done <- struct{}{} }()
	go func() { w.Run(runCtx); done <- struct{}{} }()
	t.Cleanup(func() { cancel(); <-done; <-done })

	nc := b.Connect()
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	paths, inputs := mrtest.Books(t)
	spec := mr.JobSpec{App: "wordcount", R: 2}
	for i, p := range paths[:2] {
		spec.Inputs = append(spec.Inputs, mr.Input{Name: inputs[i].Name, Path: p, Size: int64(len(inputs[i].Data))})
	}
	var reply master.SubmitReply
	if err := client.Call(ctx, "Master.Submit", master.SubmitArgs{Spec: spec}, &reply); err != nil {
		t.Fatal(err)
	}
	src, err := dashboard.NewJetStream(dashboard.JetStreamConfig{Conn: nc, Client: client, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard.JobData
	brokertest.WaitFor(t, time.Minute, func() bool {
		d, err = src.Job(ctx, reply.ID)
		if err != nil {
			t.Fatal(err)
		}
		return d.Status.State.Ended()
	}, "job %s to end", reply.ID)
	start := time.Now()
	d, err = src.Job(ctx, reply.ID)
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("read job %s in %v", reply.ID, took)
	st := d.Status
	if st.State != master.JobDone || d.Spec == nil || d.Spec.R != 2 || len(d.Spec.Inputs) != 2 {
		t.Fatalf("job %s: state %s, spec %+v; want done, R 2 and two inputs", reply.ID, st.State, d.Spec)
	}
	if len(d.Commits) != st.Maps+st.Reduces || len(d.Records) < st.Maps+st.Reduces {
		t.Errorf("job of %d tasks: %d commits, %d events; want a commit and a start of each", st.Maps+st.Reduces, len(d.Commits), len(d.Records))
	}
	for _, task := range dashboard.Tasks(st.Maps, st.Reduces, d.Records, d.Commits, time.Unix(0, st.Ended)) {
		if !task.Committed || len(task.Attempts) != 1 || task.Attempts[0].Result != dashboard.ResultCommitted || task.Attempts[0].Worker != "w1" {
			t.Errorf("%s %d: %+v, want one run committed by w1", task.Phase, task.Index, task.Attempts)
		}
	}
	page, err := src.Jobs(ctx, "", 10)
	if err != nil || len(page.Jobs) != 1 || page.Jobs[0].ID != reply.ID {
		t.Errorf("Jobs() = %+v, %v; want job %s alone", page, err, reply.ID)
	}
	if _, err := src.Job(ctx, "nope"); !errors.Is(err, dashboard.ErrNoJob) {
		t.Errorf("Job(nope) = %v, want ErrNoJob", err)
	}
	if err := src.Cancel(ctx, "nope"); !errors.Is(err, dashboard.ErrNoJob) {
		t.Errorf("Cancel(nope) = %v, want ErrNoJob", err)
	}
	c, err := src.Cluster(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Streams) != len(mr.BackingStreams()) || len(c.Nodes) != 1 {
		t.Errorf("Cluster() = %+v, want every stream on one node", c)
	}
	for _, s := range c.Streams {
		if s.Error != "" || s.Leader != c.Nodes[0] {
			t.Errorf("stream %s: leader %q, error %q; want %s", s.Name, s.Leader, s.Error, c.Nodes[0])
		}
	}
	if _, _, err := src.Workers(ctx); err != nil {
		t.Errorf("Workers() = %v", err)
	}
}
