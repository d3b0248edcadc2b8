package worker_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/worker"
)

// TestTasksGoToWorkersThatCanRunThem: a worker not allowed to run
// commands never asks for a streaming task, so one waits in the queue for
// a worker that is; that worker takes the other tasks too.
func TestTasksGoToWorkersThatCanRunThem(t *testing.T) {
	ctx, _, store := mrtest.Start(t, 3*time.Second)
	e := &env{t: t, ctx: ctx, store: store, apps: apps.Registry(true)}
	start := func(id string, allowExec bool) {
		w, err := worker.New(store, worker.Config{ID: id, Slots: 2, Apps: apps.Registry(allowExec), AllowExec: allowExec,
			Logger: slog.New(slog.DiscardHandler), SharedRoots: []string{os.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { w.Run(runCtx); close(done) }()
		t.Cleanup(func() { stop(); <-done })
	}
	waiting := func(c jetstream.Consumer) int {
		info, err := c.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.NumWaiting
	}

	input := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(input, []byte("b a\n"), 0o644)
	task := func(job, app string, args ...string) mr.Task {
		return mr.Task{Job: job, Phase: mr.PhaseMap, App: app, Args: args, R: 1, Timeout: time.Minute,
			Input: &mr.Input{Name: "in.txt", Path: input, Size: 4}, Split: mr.Split{End: 4}}
	}

	start("plain", false)
	brokertest.WaitFor(t, 10*time.Second, func() bool { return waiting(store.Workers) == 2 }, "the plain worker's two pulls")
	e.publish(task("words", "wordcount"))
	e.waitCommits("words", mr.PhaseMap, 1)
	e.publish(task("exec", mr.StreamingApp, "cat", "cat"))
	// Every pull of the plain worker is on its own consumer, none on the
	// exec consumer: the streaming task stays queued, not tried and failed.
	brokertest.WaitFor(t, 10*time.Second, func() bool { return waiting(store.Workers) == 2 }, "the plain worker pulling again")
	if n := waiting(store.ExecWorkers); n != 0 {
		t.Fatalf("pulls waiting on %s = %d, want 0 with no exec worker", mr.ConsumerExecWorkers, n)
	}
	info, err := store.ExecWorkers.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 1 || info.NumAckPending != 0 || info.Delivered.Consumer != 0 {
		t.Fatalf("exec consumer: %d pending, %d taken, %d delivered; want the task untouched", info.NumPending, info.NumAckPending, info.Delivered.Consumer)
	}

	start("exec", true)
	e.waitCommits("exec", mr.PhaseMap, 1)
	if c, _ := e.commit("exec", mr.PhaseMap, 0); c.Worker != "exec" {
		t.Errorf("streaming task committed by %q, want exec", c.Worker)
	}
	// The exec worker pulls on both consumers, one task per slot at a
	// time: a plain task reaches it as well.
	brokertest.WaitFor(t, 10*time.Second, func() bool { return waiting(store.ExecWorkers) == 2 }, "the exec worker's pulls on both consumers")
	e.publish(task("more", "wordcount"))
	e.waitCommits("more", mr.PhaseMap, 1)
}
