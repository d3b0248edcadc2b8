package tasks

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A task's message may reach a worker before its record is stored, for
// Enqueue publishes the one as it creates the other when the record is
// too large to copy into the message: the worker looks again rather than
// take the task for deleted, and runs it.
func TestMessageBeforeItsRecordRuns(t *testing.T) {
	b := newBus(t)
	b.serve(Config{}, map[string]Handler{"x": func(context.Context, *TaskInfo) (any, error) { return nil, nil }})
	task, _ := NewTask("x", nil)
	r, err := newRecord(task, []Option{TaskID("late"), Retention(time.Minute)}, time.Now(), time.Hour, func() string { return "run1" })
	if err != nil {
		t.Fatal(err)
	}
	c := ctx(t)
	if _, err := b.client.st.publish(c, r, nil, 0); err != nil {
		t.Fatal(err)
	}
	cons, err := b.client.st.queue.Consumer(c, ConsumerName(DefaultQueue))
	if err != nil {
		t.Fatal(err)
	}
	brokerWait(t, func() bool {
		info, err := cons.Info(c)
		return err == nil && info.Delivered.Consumer >= 1
	}, "the message delivered")
	if _, err := b.client.st.create(c, r, r.encode()); err != nil {
		t.Fatal(err)
	}
	b.waitState("late", StateDone)
}

// A duplicate Enqueue leaves only the first one's message in the queue:
// it publishes none, or, for a record too large to copy, deletes again
// the message it published as it tried to create the record.
func TestDuplicateEnqueueLeavesOneMessage(t *testing.T) {
	b := newBus(t)
	for _, tc := range []struct {
		id      string
		payload []byte
	}{
		{"dup", nil},
		{"dup-large", bytes.Repeat([]byte("p"), maxRecordCopy)},
	} {
		first := b.enqueue("x", tc.payload, TaskID(tc.id))
		for range 3 {
			if ti := b.enqueue("x", tc.payload, TaskID(tc.id)); !ti.Duplicate {
				t.Fatalf("Enqueue of a taken ID %s: Duplicate false", tc.id)
			}
		}
		m, err := b.client.st.queue.GetLastMsgForSubject(ctx(t), QueueSubject(DefaultQueue, tc.id))
		if err != nil {
			t.Fatal(err)
		}
		r, _, err := b.client.st.get(ctx(t), first.ID)
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != r.Run {
			t.Fatalf("the message left of %s is of run %q, want the first Enqueue's %q", tc.id, m.Data, r.Run)
		}
	}
	if n := b.queueMessages(); n != 2 {
		t.Fatalf("%d messages in the queue after duplicate Enqueues of two tasks, want 2", n)
	}
}

// A message whose record never comes is handed back once, then dropped
// on its second delivery, as the message of a deleted task.
func TestMessageWithNoRecordIsDropped(t *testing.T) {
	b := newBus(t)
	b.serve(Config{}, nil)
	js := b.js()
	m := &nats.Msg{Subject: QueueSubject(DefaultQueue, "ghost"), Data: []byte("run1")}
	if _, err := js.PublishMsg(ctx(t), m, jetstream.WithMsgID("ghost/run1")); err != nil {
		t.Fatal(err)
	}
	brokerWait(t, func() bool { return b.queueMessages() == 0 }, "the message dropped")
}
