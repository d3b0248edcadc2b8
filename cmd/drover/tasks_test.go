package main

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/tasks"
)

// serveTasks runs a task server on b with a handler "echo", whose result
// is its payload, and "fail", which fails for good.
func serveTasks(t *testing.T, b *brokertest.Server) {
	t.Helper()
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	s, err := tasks.NewServer(js, tasks.Config{Queues: map[string]int{"default": 2, "mail": 1}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	s.Handle("echo", func(_ context.Context, ti *tasks.TaskInfo) (any, error) {
		var v any
		if err := ti.Decode(&v); err != nil {
			return nil, tasks.SkipRetry(err)
		}
		return v, nil
	})
	s.Handle("fail", func(context.Context, *tasks.TaskInfo) (any, error) {
		return nil, tasks.SkipRetry(context.Canceled)
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestTaskCommands(t *testing.T) {
	b := brokertest.Start(t)
	serveTasks(t, b)
	url := b.ClientURL()
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := drover(t, append(args, "--nats", url)...)
		if code != 0 {
			t.Fatalf("drover %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
		}
		return out
	}

	if out := ok("task", "enqueue", "echo", `{"n": 42}`, "--id", "e1", "--retention", "1h", "--wait"); out != "e1\n{\"n\":42}\n" {
		t.Errorf("task enqueue --wait printed %q, want the ID and the result", out)
	}
	code, out, errOut := drover(t, "task", "enqueue", "echo", `{"n": 43}`, "--id", "e1", "--nats", url)
	if code != 0 || out != "e1\n" || !strings.Contains(errOut, "task e1 exists (done): nothing enqueued") {
		t.Errorf("task enqueue of a taken ID: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	show := ok("task", "show", "e1")
	for _, want := range []string{"ID          e1\n", "State       done\n", "Payload     {\"n\":42}\n", "Result      {\"n\":42}\n", "Attempt     1\n"} {
		if !strings.Contains(show, want) {
			t.Errorf("task show lacks %q:\n%s", want, show)
		}
	}

	ok("task", "enqueue", "later", "--id", "s1", "--queue", "mail", "--in", "1h")
	code, _, errOut = drover(t, "task", "enqueue", "fail", "--id", "f1", "--max-retry", "0", "--wait", "--nats", url)
	if code != 1 || !strings.Contains(errOut, "task f1 archived") {
		t.Errorf("task enqueue --wait of a failing task: exit %d, stderr %q, want 1 and its error", code, errOut)
	}
	list := ok("task", "ls")
	t.Logf("drover task ls:\n%s", list)
	lines := strings.Split(strings.TrimSuffix(list, "\n"), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("task ls printed %d lines, want a header and 3 tasks:\n%s", len(lines), list)
	}
	for i, want := range [][]string{{"e1", "default", "echo", "done", "1"}, {"s1", "mail", "later", "scheduled", "0"}, {"f1", "default", "fail", "archived", "1"}} {
		if got := columns(lines[i+1]); len(got) < 5 || strings.Join(got[:5], "|") != strings.Join(want, "|") {
			t.Errorf("task ls row %d = %q, want %q", i+1, got, want)
		}
	}
	if out := ok("task", "ls", "--queue", "mail"); strings.Count(out, "\n") != 2 || !strings.Contains(out, "s1") {
		t.Errorf("task ls --queue mail:\n%s", out)
	}
	if out := ok("task", "ls", "--state", "archived", "--limit", "1"); strings.Count(out, "\n") != 2 || !strings.Contains(out, "f1") {
		t.Errorf("task ls --state archived:\n%s", out)
	}

	queues := ok("queues", "--interval", "100ms")
	t.Logf("drover queues:\n%s", queues)
	qlines := strings.Split(strings.TrimSuffix(queues, "\n"), "\n")
	if len(qlines) != 3 {
		t.Fatalf("queues printed %d lines, want a header and 2 queues:\n%s", len(qlines), queues)
	}
	wantHeader := "QUEUE|PENDING|SCHEDULED|RUNNING|RETRYING|ARCHIVED|DONE|WAITING|IN FLIGHT|DELIVERED/S"
	if got := strings.Join(columns(qlines[0]), "|"); got != wantHeader {
		t.Errorf("queues header = %s, want %s", got, wantHeader)
	}
	if got := columns(qlines[1]); len(got) != 10 || strings.Join(got[:7], "|") != "default|0|0|0|0|1|1" {
		t.Errorf("queues row of default = %q", got)
	}
	if got := columns(qlines[2]); len(got) != 10 || strings.Join(got[:8], "|") != "mail|0|1|0|0|0|0|0" || got[8] != "1" {
		t.Errorf("queues row of mail = %q, want its scheduled task in flight", got)
	}

	if out := ok("task", "cancel", "s1"); out != "task s1 cancelled\n" {
		t.Errorf("task cancel printed %q", out)
	}
	code, _, errOut = drover(t, "task", "cancel", "s1", "--nats", url)
	if code != 1 || !strings.Contains(errOut, "wrong state") {
		t.Errorf("task cancel of an archived task: exit %d, stderr %q", code, errOut)
	}
	if out := ok("task", "rerun", "f1"); out != "task f1 enqueued again\n" {
		t.Errorf("task rerun printed %q", out)
	}
	brokertest.WaitFor(t, 20*time.Second, func() bool {
		return strings.Contains(ok("task", "show", "f1"), "Attempt     2\n")
	}, "the re-run task's second attempt")
	for _, id := range []string{"e1", "s1", "f1"} {
		if out := ok("task", "rm", id); out != "task "+id+" deleted\n" {
			t.Errorf("task rm printed %q", out)
		}
	}
	code, _, errOut = drover(t, "task", "show", "e1", "--nats", url)
	if code != 1 || !strings.Contains(errOut, "task not found") {
		t.Errorf("task show of a deleted task: exit %d, stderr %q", code, errOut)
	}
	if out := ok("task", "ls"); out != "ID  QUEUE  TYPE  STATE  ATTEMPT  ENQUEUED  LAST ERROR\n" {
		t.Errorf("task ls of no task printed %q", out)
	}
}

func TestTaskUsage(t *testing.T) {
	long := strings.Repeat("x", tasks.MaxIDLen+1)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no verb", []string{"task"}, "task takes a verb"},
		{"unknown verb", []string{"task", "frob"}, "unknown task verb"},
		{"no type", []string{"task", "enqueue"}, "takes a TYPE"},
		{"bad JSON", []string{"task", "enqueue", "t", "{"}, "not valid JSON"},
		{"long type", []string{"task", "enqueue", strings.Repeat("t", tasks.MaxTypeLen+1)}, "want 1 to 256"},
		{"negative in", []string{"task", "enqueue", "t", "--in", "-1s"}, "--in -1s"},
		{"huge timeout", []string{"task", "enqueue", "t", "--timeout", "9000h"}, "--timeout 9000h"},
		{"max retry", []string{"task", "enqueue", "t", "--max-retry", "-1"}, "--max-retry -1"},
		{"in and at", []string{"task", "enqueue", "t", "--in", "1s", "--at", "2030-01-01T00:00:00Z"}, "not both"},
		{"limit", []string{"task", "ls", "--limit", "0"}, "--limit 0"},
		{"state", []string{"task", "ls", "--state", "lost"}, "--state \"lost\""},
		{"show no ID", []string{"task", "show"}, "takes one task ID"},
		{"long ID", []string{"task", "rm", long}, "at most 128 bytes"},
		{"queues argument", []string{"queues", "x"}, "takes no argument"},
		{"queues interval", []string{"queues", "--interval", "2m"}, "--interval 2m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := drover(t, tc.args...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("drover %q: exit %d, stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
			}
		})
	}
}

func TestTaskEnqueueInvalidOptions(t *testing.T) {
	b := brokertest.Start(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"bad ID", []string{"--id", "a.b"}, "ID \"a.b\""},
		{"bad queue", []string{"--queue", "a b"}, "queue \"a b\""},
		{"bad at", []string{"--at", "tomorrow"}, "--at \"tomorrow\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, _, errOut := drover(t, append([]string{"task", "enqueue", "t", "--nats", b.ClientURL()}, tc.args...)...)
			if code != 2 || !strings.Contains(errOut, tc.want) {
				t.Errorf("drover task enqueue %q: exit %d, stderr %q, want 2 and %q", tc.args, code, errOut, tc.want)
			}
		})
	}
}

func TestTaskSchedules(t *testing.T) {
	b := brokertest.Start(t)
	url := b.ClientURL()
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := drover(t, append(args, "--nats", url)...)
		if code != 0 {
			t.Fatalf("drover %s: exit %d, stderr %q", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	if out := ok("task", "schedule", "nightly", "report", `{"full":true}`, "--cron", "0 3 * * *", "--queue", "mail"); out != "schedule nightly set\n" {
		t.Errorf("task schedule printed %q", out)
	}
	ok("task", "schedule", "tick", "ping", "--every", "30s")
	out := ok("task", "schedules")
	want := "NAME     PERIOD     TYPE    QUEUE    LAST PERIOD\n" +
		"nightly  0 3 * * *  report  mail     -\n" +
		"tick     every 30s  ping    default  -\n"
	if out != want {
		t.Errorf("task schedules printed\n%s, want\n%s", out, want)
	}
	code, _, errOut := drover(t, "task", "schedule", "bad", "t", "--cron", "every day", "--nats", url)
	if code != 2 || !strings.Contains(errOut, "cron expression") {
		t.Errorf("task schedule with a bad cron expression: exit %d, stderr %q", code, errOut)
	}
	if out := ok("task", "unschedule", "tick"); out != "schedule tick removed\n" {
		t.Errorf("task unschedule printed %q", out)
	}
	code, _, errOut = drover(t, "task", "unschedule", "tick", "--nats", url)
	if code != 1 || !strings.Contains(errOut, "schedule not found") {
		t.Errorf("task unschedule of no schedule: exit %d, stderr %q", code, errOut)
	}
	for _, tc := range [][]string{
		{"task", "schedule", "n", "t"},
		{"task", "schedule", "n", "t", "--every", "1s", "--cron", "@hourly"},
		{"task", "schedule", "n"},
		{"task", "schedule", "n", "t", "--every", "-1s"},
	} {
		if code, _, _ := drover(t, tc...); code != 2 {
			t.Errorf("drover %q: exit %d, want 2", tc, code)
		}
	}
}
