package integration

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/auth"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/tasks"
)

// TestTaskQueueUnderPermissions: the general task queue works under the
// permissions drover auth init writes, and each role does its part and
// no more: the master makes the queue's streams and enqueues the periods
// of a periodic task, a worker's task server
// runs tasks, a submitter enqueues, waits, declares a periodic task and
// cancels, a reader sees tasks and queues and changes nothing.
func TestTaskQueueUnderPermissions(t *testing.T) {
	s := newSecured(t)
	nc, violations := s.connect(auth.Worker)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tasks.NewServer(js, tasks.Config{Queues: map[string]int{"default": 2}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Handle("echo", func(_ context.Context, ti *tasks.TaskInfo) (any, error) {
		var v any
		return v, ti.Decode(&v)
	})
	srv.Handle("block", func(ctx context.Context, _ *tasks.TaskInfo) (any, error) {
		<-ctx.Done() // until cancelled
		return nil, ctx.Err()
	})
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-served })

	ok := func(o outcome, what string) string {
		t.Helper()
		if o.refused != "" || o.err != nil {
			t.Fatalf("%s: %v", what, o)
		}
		return o.stdout
	}
	if out := ok(s.tryDrover(auth.Submitter, "task", "enqueue", "echo", `{"n":1}`, "--id", "e1", "--retention", "1h", "--wait"), "the submitter's enqueue --wait"); out != "e1\n{\"n\":1}\n" {
		t.Errorf("drover task enqueue --wait as submitter printed %q", out)
	}
	// Enqueued again: its ID is taken, and the message published with it
	// is removed again.
	if o := s.tryDrover(auth.Submitter, "task", "enqueue", "echo", `{"n":2}`, "--id", "e1"); o.refused != "" || o.err != nil || o.stdout != "e1\n" {
		t.Errorf("drover task enqueue of a taken ID as submitter: %v", o)
	}
	if out := ok(s.tryDrover(auth.Reader, "task", "show", "e1"), "the reader's task show"); !strings.Contains(out, "done") {
		t.Errorf("drover task show as reader:\n%s\nwant it done", out)
	}
	ok(s.tryDrover(auth.Reader, "task", "ls"), "the reader's task ls")
	if out := ok(s.tryDrover(auth.Reader, "queues"), "the reader's drover queues"); !strings.Contains(out, "default") {
		t.Errorf("drover queues as reader:\n%s\nwant the default queue", out)
	}
	ok(s.tryDrover(auth.Submitter, "task", "schedule", "tick", "echo", `{}`, "--every", "1s"), "the submitter's task schedule")
	if out := ok(s.tryDrover(auth.Reader, "task", "schedules"), "the reader's task schedules"); !strings.Contains(out, "tick") {
		t.Errorf("drover task schedules as reader:\n%s\nwant tick", out)
	}
	brokertest.WaitFor(t, time.Minute, func() bool {
		return strings.Contains(ok(s.tryDrover(auth.Reader, "task", "ls", "--state", "done"), "the reader's task ls"), "tick")
	}, "the master started with --schedules to enqueue a period of tick, and the worker to run it")
	ok(s.tryDrover(auth.Submitter, "task", "unschedule", "tick"), "the submitter's task unschedule")

	ok(s.tryDrover(auth.ExecSubmitter, "task", "enqueue", "block", "--id", "b1"), "the exec-submitter's enqueue")
	for _, try := range [][]string{{"task", "enqueue", "echo", "--id", "r1"}, {"task", "cancel", "b1"}, {"task", "rm", "e1"}, {"task", "schedule", "tock", "echo", "--every", "1h"}} {
		if o := s.tryDrover(auth.Reader, try...); o.refused == "" {
			t.Errorf("drover %s as reader: %v; want it refused", strings.Join(try, " "), o)
		}
	}
	ok(s.tryDrover(auth.Submitter, "task", "cancel", "b1"), "the submitter's task cancel")
	brokertest.WaitFor(t, time.Minute, func() bool {
		return strings.Contains(ok(s.tryDrover(auth.Reader, "task", "show", "b1"), "the reader's task show"), "cancelled")
	}, "the cancelled task to be archived")
	select {
	case v := <-violations:
		t.Errorf("the worker's task server was refused: %v", v)
	default:
	}
}
