package tasks

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// blocker is a handler that blocks until its context ends, telling when
// it started and why it ended.
type blocker struct {
	started chan string
	ended   chan error
}

func newBlocker() *blocker {
	return &blocker{started: make(chan string, 16), ended: make(chan error, 16)}
}

func (bl *blocker) handle(ctx context.Context, ti *TaskInfo) (any, error) {
	bl.started <- ti.ID
	<-ctx.Done()
	bl.ended <- ctx.Err()
	return nil, ctx.Err()
}

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("no %s within %v", what, waitTimeout)
		panic("unreachable")
	}
}

// Cancel reaches a running handler at once, long before any lease or
// heartbeat, and archives its task, which can be re-run.
func TestCancelReachesARunningHandler(t *testing.T) {
	b := newBus(t)
	bl := newBlocker()
	b.serve(Config{Lease: time.Minute}, map[string]Handler{"block": bl.handle})
	ti := b.enqueue("block", nil, Group("cg"))
	recv(t, bl.started, "start")
	start := time.Now()
	if err := b.client.Cancel(ctx(t), ti.ID); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, bl.ended, "end of the handler"); !errors.Is(err, context.Canceled) {
		t.Fatalf("handler's context ended with %v, want cancelled", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("cancel took %v to reach the handler", took)
	}
	got := b.waitState(ti.ID, StateArchived)
	if got.LastError != ErrCancelled.Error() {
		t.Fatalf("cancelled task = %+v, want ErrCancelled", got)
	}
	if err := b.client.WaitGroup(ctx(t), "cg"); err != nil {
		t.Fatalf("WaitGroup after the cancel: %v", err)
	}
	if err := b.client.Cancel(ctx(t), ti.ID); !errors.Is(err, ErrWrongState) {
		t.Fatalf("Cancel of an archived task: %v, want ErrWrongState", err)
	}
	if _, err := b.client.Rerun(ctx(t), ti.ID); err != nil {
		t.Fatal(err)
	}
	if id := recv(t, bl.started, "start after Rerun"); id != ti.ID {
		t.Fatalf("started %s, want %s", id, ti.ID)
	}
}

// A cancelled task that waits leaves its queue and never runs.
func TestCancelOfAWaitingTask(t *testing.T) {
	b := newBus(t)
	var runs atomic.Int32
	b.serve(Config{}, map[string]Handler{"x": func(context.Context, *TaskInfo) (any, error) { runs.Add(1); return nil, nil }})
	ti := b.enqueue("x", nil, ProcessIn(500*time.Millisecond), Group("wg"))
	if err := b.client.Cancel(ctx(t), ti.ID); err != nil {
		t.Fatal(err)
	}
	if err := b.client.WaitGroup(ctx(t), "wg"); err != nil {
		t.Fatalf("WaitGroup after the cancel: %v", err)
	}
	b.enqueue("x", nil, ProcessIn(time.Second), TaskID("later"))
	b.waitState("later", StateDone)
	if got := b.waitState(ti.ID, StateArchived); runs.Load() != 1 || got.Attempt != 0 {
		t.Fatalf("%d runs, cancelled task %+v; want only the later task run", runs.Load(), got)
	}
	// The later task's message is acked just after its record says done.
	brokerWait(t, func() bool { return b.queueMessages() == 0 }, "an empty queue")
}

// Delete removes a task in any state, and frees its ID.
func TestDelete(t *testing.T) {
	b := newBus(t)
	bl := newBlocker()
	b.serve(Config{Lease: time.Minute}, map[string]Handler{"block": bl.handle})
	waiting := b.enqueue("block", nil, ProcessIn(time.Hour), TaskID("waiting"))
	running := b.enqueue("block", nil, TaskID("running"), Group("dg"))
	recv(t, bl.started, "start")
	for _, id := range []string{waiting.ID, running.ID} {
		if err := b.client.Delete(ctx(t), id); err != nil {
			t.Fatalf("Delete(%s): %v", id, err)
		}
		if _, err := b.client.Inspect(ctx(t), id); !errors.Is(err, ErrTaskNotFound) {
			t.Fatalf("Inspect(%s) after Delete: %v, want ErrTaskNotFound", id, err)
		}
	}
	recv(t, bl.ended, "end of the deleted task's handler")
	if err := b.client.WaitGroup(ctx(t), "dg"); err != nil {
		t.Fatalf("WaitGroup after the delete: %v", err)
	}
	if ti := b.enqueue("block", nil, TaskID("waiting"), ProcessIn(time.Hour)); ti.Duplicate {
		t.Fatalf("Enqueue of a deleted task's ID found a duplicate: %+v", ti)
	}
	if err := b.client.Delete(ctx(t), "nobody"); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("Delete of an unknown task: %v, want ErrTaskNotFound", err)
	}
	brokerWait(t, func() bool { return b.queueMessages() == 1 }, "only the new task's message in the queue")
	if _, err := b.client.st.queue.GetLastMsgForSubject(ctx(t), QueueSubject(DefaultQueue, "waiting")); err != nil {
		t.Fatalf("the new task's message: %v", err)
	}
}

func TestListByQueueAndState(t *testing.T) {
	b := newBus(t)
	bl := newBlocker()
	b.serve(Config{Queues: map[string]int{"busy": 1}, Lease: time.Minute}, map[string]Handler{
		"block": bl.handle,
		"fail":  func(context.Context, *TaskInfo) (any, error) { return nil, SkipRetry(errors.New("no")) },
		"ok":    func(context.Context, *TaskInfo) (any, error) { return nil, nil },
	})
	b.enqueue("block", nil, Queue("busy"), TaskID("r1"))
	recv(t, bl.started, "start")
	b.enqueue("block", nil, Queue("busy"), TaskID("p1"))
	b.enqueue("ok", nil, Queue("idle"), TaskID("p2"))
	b.enqueue("ok", nil, Queue("idle"), TaskID("s1"), ProcessIn(time.Hour))
	b.enqueue("fail", nil, Queue("busy"), TaskID("a1"), ProcessIn(time.Millisecond))
	d1 := b.enqueue("ok", nil, Queue("busy"), TaskID("d1"), ProcessIn(2*time.Millisecond), Retention(time.Minute))
	b.waitState("r1", StateRunning)
	brokerWait(t, func() bool { return time.Now().After(d1.ProcessAt) }, "a1 and d1 due")
	for _, tc := range []struct {
		queue string
		state State
		want  []string
	}{
		{"busy", StateRunning, []string{"r1"}},
		{"busy", StatePending, []string{"p1", "a1", "d1"}},
		{"idle", StatePending, []string{"p2"}},
		{"", StateScheduled, []string{"s1"}},
		{"idle", "", []string{"p2", "s1"}},
	} {
		list, err := b.client.List(ctx(t), tc.queue, tc.state)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ti := range list {
			ids = append(ids, ti.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("List(%q, %q) = %v, want %v", tc.queue, tc.state, ids, tc.want)
		}
	}
	// p1, a1 and d1 wait behind r1 in their queue's one slot.
	for _, id := range []string{"r1", "p1"} {
		b.waitState(id, StateRunning)
		if err := b.client.Cancel(ctx(t), id); err != nil {
			t.Fatal(err)
		}
	}
	b.waitState("d1", StateDone)
	b.waitState("a1", StateArchived)
	list, err := b.client.List(ctx(t), "busy", StateArchived)
	if err != nil || len(list) != 3 || list[0].ID != "r1" || list[1].ID != "p1" || list[2].ID != "a1" {
		t.Fatalf("List(busy, archived) = %v, %v; want r1, p1 and a1", list, err)
	}
}

// queueMessages is how many messages the work queue holds.
func (b *bus) queueMessages() uint64 {
	b.t.Helper()
	info, err := b.client.st.queue.Info(context.Background())
	if err != nil {
		b.t.Fatal(err)
	}
	return info.State.Msgs
}
