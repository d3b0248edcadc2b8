package tasks

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
)

// nodeID names node i of level d of a graph in which every node of a
// level links to every node of the next: many parents enqueue each child.
func nodeID(d, i int) string { return fmt.Sprintf("n%d-%d", d, i) }

// A group in which tasks enqueue more tasks into it is done only once
// every task, however deep, has ended, and each ran once.
func TestWaitGroupWaitsForTasksThatTasksEnqueue(t *testing.T) {
	const levels, width = 4, 3
	b := newBus(t)
	ev := newEvents()
	client := b.client
	var mu sync.Mutex
	notDone := 0 // tasks seen running with WaitGroup still waiting
	waiting := true
	handler := func(ctx context.Context, ti *TaskInfo) (any, error) {
		ev.start(ti.ID)
		var d int
		if err := ti.Decode(&d); err != nil {
			return nil, SkipRetry(err)
		}
		if d+1 < levels {
			for i := range width {
				task, _ := NewTask("node", d+1)
				if _, err := client.Enqueue(ctx, task, TaskID(nodeID(d+1, i)), Group(ti.Group), Retention(time.Minute)); err != nil {
					return nil, err
				}
			}
		}
		time.Sleep(5 * time.Millisecond) // work, which keeps the group open a while
		mu.Lock()
		if !waiting {
			notDone++
		}
		mu.Unlock()
		return nil, nil
	}
	b.serve(Config{Queues: map[string]int{DefaultQueue: 4}}, map[string]Handler{"node": handler})
	root, _ := NewTask("node", 0)
	if _, err := client.Enqueue(ctx(t), root, TaskID(nodeID(0, 0)), Group("crawl"), Retention(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := client.WaitGroup(ctx(t), "crawl"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	waiting = false
	mu.Unlock()
	want := 1 + (levels-1)*width
	list, err := client.List(ctx(t), "", "")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != want {
		t.Fatalf("%d tasks, want %d", len(list), want)
	}
	for _, ti := range list {
		if ti.State != StateDone || ti.Group != "crawl" || ev.count(ti.ID) != 1 {
			t.Errorf("task %s %s in group %q ran %d times when the group was done; want done, once", ti.ID, ti.State, ti.Group, ev.count(ti.ID))
		}
	}
	if notDone != 0 {
		t.Fatalf("%d tasks ran after WaitGroup returned", notDone)
	}
}

func TestWaitGroupOfAnEmptyGroupReturnsAtOnce(t *testing.T) {
	b := newBus(t)
	if err := b.client.WaitGroup(ctx(t), "empty"); err != nil {
		t.Fatal(err)
	}
	if err := b.client.WaitGroup(ctx(t), "bad.name"); err == nil {
		t.Fatal("WaitGroup of an invalid name returned nil")
	}
}

// Each queue runs at most its concurrency of tasks at once.
func TestQueueConcurrency(t *testing.T) {
	b := newBus(t)
	var mu sync.Mutex
	active, peak := map[string]int{}, map[string]int{}
	release := make(chan struct{})
	b.serve(Config{Queues: map[string]int{"wide": 3, "narrow": 1}}, map[string]Handler{
		"work": func(ctx context.Context, ti *TaskInfo) (any, error) {
			mu.Lock()
			active[ti.Queue]++
			peak[ti.Queue] = max(peak[ti.Queue], active[ti.Queue])
			mu.Unlock()
			<-release
			mu.Lock()
			active[ti.Queue]--
			mu.Unlock()
			return nil, nil
		},
	})
	var ids []string
	for i := range 6 {
		ids = append(ids, b.enqueue("work", nil, Queue("wide"), Retention(time.Minute)).ID)
		if i < 3 {
			ids = append(ids, b.enqueue("work", nil, Queue("narrow"), Retention(time.Minute)).ID)
		}
	}
	brokertest.WaitFor(t, waitTimeout, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return active["wide"] == 3 && active["narrow"] == 1
	}, "every slot busy")
	for range len(ids) {
		release <- struct{}{}
	}
	for _, id := range ids {
		b.waitState(id, StateDone)
	}
	if peak["wide"] != 3 || peak["narrow"] != 1 {
		t.Fatalf("peak concurrency %v, want wide 3, narrow 1", peak)
	}
}

// A worker closing the group place of a task's earlier run, late, leaves
// the place of the run a Rerun opened meanwhile.
func TestCloseGroupLeavesALaterRunsPlace(t *testing.T) {
	b := newBus(t)
	st, c := b.client.st, ctx(t)
	run1 := record{ID: "t", Group: "g", Run: "run1"}
	run2 := record{ID: "t", Group: "g", Run: "run2"}
	if err := st.openGroup(c, run1); err != nil {
		t.Fatal(err)
	}
	if err := st.openGroup(c, run2); err != nil { // the Rerun
		t.Fatal(err)
	}
	if err := st.closeGroup(c, run1); err != nil { // the late worker
		t.Fatal(err)
	}
	if _, err := st.groups.Get(c, GroupKey("g", "t")); err != nil {
		t.Fatalf("the later run's place: %v", err)
	}
	for range 2 { // idempotent
		if err := st.closeGroup(c, run2); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.client.WaitGroup(c, "g"); err != nil {
		t.Fatal(err)
	}
}

// A Delete interrupted after it removed a task's record leaves the task's
// group place to the worker that takes its message.
func TestWorkerClosesTheGroupPlaceOfADeletedTask(t *testing.T) {
	b := newBus(t)
	st, c := b.client.st, ctx(t)
	ti := b.enqueue("x", nil, TaskID("del"), Group("dg"))
	r, rev, err := st.get(c, ti.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.remove(c, ti.ID, rev); err != nil { // Delete dies here
		t.Fatal(err)
	}
	if _, err := st.groups.Get(c, GroupKey("dg", r.ID)); err != nil {
		t.Fatalf("the group place before a worker came: %v", err)
	}
	b.serve(Config{}, nil)
	if err := b.client.WaitGroup(c, "dg"); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, waitTimeout, func() bool { return b.queueMessages() == 0 }, "the message dropped")
}
