package tasks

import (
	"bytes"
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The message an Enqueue publishes carries the record as created and its
// revision, for the worker's claim; a large record is left out.
func TestEnqueueMessageCarriesTheRecord(t *testing.T) {
	b := newBus(t)
	sent := map[string][]byte{}
	for _, tc := range []struct {
		name    string
		payload []byte
		copied  bool
	}{
		{"small", []byte("p"), true},
		{"large", bytes.Repeat([]byte("p"), maxRecordCopy), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sent[tc.name] = b.enqueue("x", tc.payload, TaskID(tc.name)).Payload
			m, err := b.client.st.queue.GetLastMsgForSubject(ctx(t), QueueSubject(DefaultQueue, tc.name))
			if err != nil {
				t.Fatal(err)
			}
			r, rev, err := b.client.st.get(ctx(t), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			data := m.Header.Get(HeaderRecord)
			if !tc.copied {
				if data != "" || m.Header.Get(HeaderRevision) != "" {
					t.Fatalf("message of a record of %d bytes carries a copy", len(r.encode()))
				}
				return
			}
			if data != string(r.encode()) {
				t.Fatalf("copy in the message = %s, want the record %s", data, r.encode())
			}
			if got := m.Header.Get(HeaderRevision); got != strconv.FormatUint(rev, 10) {
				t.Fatalf("copy's revision = %s, want %d", got, rev)
			}
		})
	}
	seen := make(chan *TaskInfo, 4)
	b.serve(Config{}, map[string]Handler{"x": func(_ context.Context, ti *TaskInfo) (any, error) {
		seen <- ti
		return nil, nil
	}})
	for range sent {
		ti := recv(t, seen, "a start")
		if !bytes.Equal(ti.Payload, sent[ti.ID]) {
			t.Fatalf("task %s ran with a payload of %d bytes, want the %d enqueued", ti.ID, len(ti.Payload), len(sent[ti.ID]))
		}
	}
}

// A copy that is stale, the record having changed after the message was
// published, loses the claim: the worker reads the record and runs the
// task as it is now.
func TestStaleCopyRunsTheRecord(t *testing.T) {
	b := newBus(t)
	b.enqueue("x", []byte("old"), TaskID("stale"))
	r, rev, err := b.client.st.get(ctx(t), "stale")
	if err != nil {
		t.Fatal(err)
	}
	r.Payload = []byte("new")
	if _, err := b.client.st.update(ctx(t), r, rev); err != nil {
		t.Fatal(err)
	}
	seen := make(chan string, 4)
	b.serve(Config{}, map[string]Handler{"x": func(_ context.Context, ti *TaskInfo) (any, error) {
		seen <- string(ti.Payload)
		return nil, nil
	}})
	if p := recv(t, seen, "a start"); p != "new" {
		t.Fatalf("handler saw payload %q, want the record's %q", p, "new")
	}
	if ti := b.waitState("stale", StateDone); ti.Attempt != 1 {
		t.Fatalf("task ran %d attempts, want 1", ti.Attempt)
	}
}

// A copy that is not a valid record of the message's task and run is
// ignored: the worker reads the record and runs the task.
func TestInvalidCopyIsIgnored(t *testing.T) {
	b := newBus(t)
	other, err := newRecord(&Task{Type: "x"}, []Option{TaskID("other")}, time.Now(), time.Hour, func() string { return "runother" })
	if err != nil {
		t.Fatal(err)
	}
	otherCopy := string(other.encode())
	cases := map[string]nats.Header{
		"garbage":      {HeaderRecord: {"{not json"}, HeaderRevision: {"1"}},
		"no-revision":  {HeaderRecord: {otherCopy}},
		"bad-revision": {HeaderRecord: {otherCopy}, HeaderRevision: {"x1"}},
		"zero":         {HeaderRecord: {otherCopy}, HeaderRevision: {"0"}},
		"huge":         {HeaderRecord: {otherCopy}, HeaderRevision: {"99999999999999999999999"}},
		"other-task":   {HeaderRecord: {otherCopy}, HeaderRevision: {"1"}},
	}
	js := b.js()
	for id, h := range cases {
		r, err := newRecord(&Task{Type: "x"}, []Option{TaskID(id)}, time.Now(), time.Hour, func() string { return "run1" })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.client.st.create(ctx(t), r, r.encode()); err != nil {
			t.Fatal(err)
		}
		m := &nats.Msg{Subject: QueueSubject(DefaultQueue, id), Data: []byte(r.Run), Header: h}
		if _, err := js.PublishMsg(ctx(t), m, jetstream.WithMsgID(msgID(id, r.Run))); err != nil {
			t.Fatal(err)
		}
	}
	b.serve(Config{}, map[string]Handler{"x": func(context.Context, *TaskInfo) (any, error) { return nil, nil }})
	for id := range cases {
		if ti := b.waitState(id, StateDone); ti.Attempt != 1 {
			t.Fatalf("task %s ran %d attempts, want 1", id, ti.Attempt)
		}
	}
	if _, err := b.client.Inspect(ctx(t), "other"); err == nil {
		t.Fatal("a copy in another task's message made a record")
	}
}
