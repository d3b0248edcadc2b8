package tasks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
)

// Across a broker restart, tasks that waited, were scheduled, or were
// running all finish, and new ones are enqueued and run.
func TestBrokerRestart(t *testing.T) {
	b := newBus(t)
	release := make(chan struct{})
	started := make(chan string, 4)
	b.serve(Config{Lease: 3 * time.Second}, map[string]Handler{
		"hold": func(ctx context.Context, ti *TaskInfo) (any, error) {
			started <- ti.ID
			select {
			case <-release:
				return "held", nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		},
		"quick": func(context.Context, *TaskInfo) (any, error) { return "quick", nil },
	})
	b.enqueue("quick", nil, TaskID("before"), Retention(time.Minute))
	b.waitState("before", StateDone)
	b.enqueue("hold", nil, TaskID("held"), Retention(time.Minute))
	recv(t, started, "start of the held task")
	b.enqueue("quick", nil, TaskID("scheduled"), ProcessIn(1500*time.Millisecond), Retention(time.Minute))

	b.broker.Restart()

	close(release)
	var after *TaskInfo
	brokertest.WaitFor(t, waitTimeout, func() bool {
		task, _ := NewTask("quick", nil)
		var err error
		after, err = b.client.Enqueue(context.Background(), task, TaskID("after"), Retention(time.Minute))
		return err == nil
	}, "an Enqueue after the restart")
	if after.Duplicate {
		t.Fatalf("Enqueue after the restart found a duplicate: %+v", after)
	}
	for _, id := range []string{"before", "held", "scheduled", "after"} {
		done, err := b.client.Wait(ctx(t), id)
		if err != nil {
			t.Fatalf("Wait(%s): %v", id, err)
		}
		if id == "held" && done.Attempt != 1 {
			t.Errorf("the held task took %d attempts; want it to keep its lease across the restart", done.Attempt)
		}
	}
}

// Nothing a client publishes to the queue or writes to the bucket stops a
// server: messages and records that break the protocol are dropped, and
// the tasks after them run.
func TestHostileMessagesAndRecords(t *testing.T) {
	b := newBus(t)
	b.serve(Config{}, map[string]Handler{"ok": func(context.Context, *TaskInfo) (any, error) { return "ok", nil }})
	js := b.js()
	c := ctx(t)
	good, _ := NewTask("ok", nil)
	valid, err := newRecord(good, []Option{TaskID("wrongkey")}, time.Now(), time.Hour, func() string { return "x" })
	if err != nil {
		t.Fatal(err)
	}
	records := map[string][]byte{
		"garbage":  []byte("{not json"),
		"huge":     []byte(`{"id":"huge","type":"ok","queue":"default","state":"pending","run":"r","max_retry":99999999,"timeout":1}`),
		"badstate": []byte(`{"id":"badstate","type":"ok","queue":"default","state":"sleeping","run":"r","timeout":1}`),
		"otherq":   []byte(`{"id":"otherq","type":"ok","queue":"other","state":"pending","run":"r","timeout":1}`),
		"mismatch": valid.encode(), // a record under another task's key
	}
	for key, data := range records {
		if _, err := b.client.st.tasks.Put(c, key, data); err != nil {
			t.Fatal(err)
		}
		if _, err := js.Publish(c, QueueSubject(DefaultQueue, key), []byte("r")); err != nil {
			t.Fatal(err)
		}
	}
	for subj, body := range map[string]string{
		QueueSubject(DefaultQueue, "norecord"): "r",
		QueueSubject(DefaultQueue, "badrun"):   "not a run name",
		QueueSubject(DefaultQueue, "longrun"):  string(make([]byte, 1<<20-1024)),
		"drover.tq.q.default.a.b":              "r",
	} {
		if _, err := js.Publish(c, subj, []byte(body)); err != nil && !errors.Is(err, jetstream.ErrNoStreamResponse) {
			t.Logf("publish %s: %v", subj, err)
		}
	}
	if err := js.Conn().Publish(CancelSubject("nobody"), []byte("x")); err != nil {
		t.Fatal(err)
	}
	ti := b.enqueue("ok", nil, Retention(time.Minute))
	if _, err := b.client.Wait(c, ti.ID); err != nil {
		t.Fatalf("Wait of a good task after hostile ones: %v", err)
	}
	brokertest.WaitFor(t, waitTimeout, func() bool { return b.queueMessages() == 0 }, "every hostile message dropped")
	for key := range records {
		if _, err := b.client.Inspect(c, key); key != "otherq" && !errors.Is(err, ErrInvalidTask) {
			t.Errorf("Inspect(%s) = %v, want ErrInvalidTask", key, err)
		}
		if err := b.client.Delete(c, key); err != nil {
			t.Errorf("Delete(%s): %v", key, err)
		}
	}
	if list, err := b.client.List(c, "", ""); err != nil || len(list) != 1 {
		t.Fatalf("List = %d tasks, %v; want the good one alone", len(list), err)
	}
}

// A task whose producer died between its record and its message is
// republished by the sweep once its grace has passed, and runs.
func TestSweepRepublishesATaskWhoseProducerDied(t *testing.T) {
	b := newBus(t)
	ev := newEvents()
	b.serve(Config{SweepEvery: 100 * time.Millisecond, SweepGrace: 300 * time.Millisecond}, map[string]Handler{
		"x": func(_ context.Context, ti *TaskInfo) (any, error) { ev.start(ti.ID); return nil, nil },
	})
	task, _ := NewTask("x", nil)
	r, err := newRecord(task, []Option{TaskID("orphan"), Group("og"), Retention(time.Minute)}, time.Now(), time.Hour, func() string { return "run1" })
	if err != nil {
		t.Fatal(err)
	}
	created := time.Now()
	if _, err := b.client.st.create(ctx(t), r, r.encode()); err != nil { // the producer dies here
		t.Fatal(err)
	}
	b.waitState("orphan", StateDone)
	if took := time.Since(created); took < 300*time.Millisecond {
		t.Fatalf("the orphan ran %v after its record, within its grace", took)
	}
	if ev.count("orphan") != 1 {
		t.Fatalf("the orphan ran %d times, want once", ev.count("orphan"))
	}
	if err := b.client.WaitGroup(ctx(t), "og"); err != nil {
		t.Fatal(err)
	}
}

// A task whose producer died between its record and its message, and
// that is enqueued again (as a handler run again enqueues its children),
// is finished by the second Enqueue: it holds its group open at once and
// runs, with no wait for the sweep.
func TestDuplicateEnqueueFinishesADeadProducersTask(t *testing.T) {
	b := newBus(t)
	release := make(chan struct{})
	b.serve(Config{SweepEvery: -1}, map[string]Handler{
		"x": func(context.Context, *TaskInfo) (any, error) { <-release; return nil, nil },
	})
	task, _ := NewTask("x", nil)
	r, err := newRecord(task, []Option{TaskID("half"), Group("hg"), Retention(time.Minute)}, time.Now(), time.Hour, func() string { return "run1" })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.st.create(ctx(t), r, r.encode()); err != nil { // the producer dies here
		t.Fatal(err)
	}
	ti := b.enqueue("x", nil, TaskID("half"), Group("hg"))
	if !ti.Duplicate {
		t.Fatalf("Enqueue of a taken ID: Duplicate false")
	}
	b.waitState("half", StateRunning)
	wctx, cancel := context.WithTimeout(ctx(t), 200*time.Millisecond)
	defer cancel()
	if err := b.client.WaitGroup(wctx, "hg"); err == nil {
		t.Fatal("WaitGroup returned while the group's task runs")
	}
	close(release)
	if err := b.client.WaitGroup(ctx(t), "hg"); err != nil {
		t.Fatal(err)
	}
	b.waitState("half", StateDone)
	// Enqueued again once done, it opens no place in its group.
	if ti := b.enqueue("x", nil, TaskID("half"), Group("hg")); !ti.Duplicate {
		t.Fatal("Enqueue of a done task's ID: Duplicate false")
	}
	if err := b.client.WaitGroup(ctx(t), "hg"); err != nil {
		t.Fatal(err)
	}
}
