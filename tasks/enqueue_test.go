package tasks

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

type addArgs struct {
	A, B int
}

type addReply struct {
	Sum int
}

func add(ctx context.Context, t *TaskInfo) (any, error) {
	var args addArgs
	if err := t.Decode(&args); err != nil {
		return nil, SkipRetry(err)
	}
	return addReply{Sum: args.A + args.B}, nil
}

func TestTaskRunsAndWaitReturnsItsResult(t *testing.T) {
	for _, codec := range []rpcq.Codec{rpcq.Msgpack, rpcq.JSON} {
		t.Run(codec.ContentType(), func(t *testing.T) {
			b := newBus(t)
			b.serve(Config{}, map[string]Handler{"add": add})
			task, err := newTask("add", addArgs{A: 2, B: 3}, codec)
			if err != nil {
				t.Fatal(err)
			}
			ti, err := b.client.Enqueue(ctx(t), task, TaskID("sum-1"), Retention(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			if ti.ID != "sum-1" || ti.Queue != DefaultQueue || ti.State != StatePending || ti.Duplicate {
				t.Fatalf("Enqueue = %+v, want sum-1 pending in %s", ti, DefaultQueue)
			}
			done, err := b.client.Wait(ctx(t), "sum-1")
			if err != nil {
				t.Fatalf("Wait: %v", err)
			}
			var reply addReply
			if err := done.DecodeResult(&reply); err != nil || reply.Sum != 5 {
				t.Fatalf("result %+v (%v), want Sum 5", reply, err)
			}
			if done.State != StateDone || done.Attempt != 1 || done.Retried != 0 || done.ContentType != codec.ContentType() {
				t.Fatalf("Wait = %+v, want done after one attempt in %s", done, codec.ContentType())
			}
			res, err := b.client.Result(ctx(t), "sum-1")
			if err != nil || string(res.Result) != string(done.Result) {
				t.Fatalf("Result = %v, %v; want Wait's result", res, err)
			}
		})
	}
}

func TestResultOfATaskNotDone(t *testing.T) {
	b := newBus(t)
	ti := b.enqueue("add", addArgs{}, ProcessIn(time.Hour))
	if _, err := b.client.Result(ctx(t), ti.ID); !errors.Is(err, ErrNotDone) {
		t.Fatalf("Result of a scheduled task: %v, want ErrNotDone", err)
	}
	if _, err := b.client.Result(ctx(t), "nobody"); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("Result of an unknown task: %v, want ErrTaskNotFound", err)
	}
	if _, err := b.client.Wait(ctx(t), "nobody"); !errors.Is(err, ErrTaskNotFound) {
		t.Fatalf("Wait of an unknown task: %v, want ErrTaskNotFound", err)
	}
}

// Of many concurrent Enqueues of one ID, from many connections, one
// enqueues and the others get that task back; it runs once.
func TestEnqueueOfOneIDFromManyClientsEnqueuesOnce(t *testing.T) {
	b := newBus(t)
	var runs atomic.Int32
	b.serve(Config{}, map[string]Handler{"once": func(context.Context, *TaskInfo) (any, error) {
		runs.Add(1)
		return nil, nil
	}})
	const conns, perConn = 6, 8
	clients := make([]*Client, conns)
	for i := range clients {
		clients[i] = newClient(t, b.broker)
	}
	var wg sync.WaitGroup
	var fresh, dups atomic.Int32
	errs := make(chan error, conns*perConn)
	for i := range conns * perConn {
		wg.Go(func() {
			task, _ := NewTask("once", i)
			ti, err := clients[i%conns].Enqueue(context.Background(), task, TaskID("the-one"), Retention(time.Minute))
			switch {
			case err != nil:
				errs <- err
			case ti.ID != "the-one":
				errs <- errors.New("wrong ID " + ti.ID)
			case ti.Duplicate:
				dups.Add(1)
			default:
				fresh.Add(1)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("Enqueue: %v", err)
	}
	if fresh.Load() != 1 || dups.Load() != conns*perConn-1 {
		t.Fatalf("%d enqueued, %d duplicates; want 1 and %d", fresh.Load(), dups.Load(), conns*perConn-1)
	}
	b.waitState("the-one", StateDone)
	// Retained: the ID stays taken once the task is done.
	if ti := b.enqueue("once", 0, TaskID("the-one")); !ti.Duplicate || ti.State != StateDone {
		t.Fatalf("Enqueue of a retained task's ID = %+v, want the done task as a duplicate", ti)
	}
	info, err := b.client.st.queue.Info(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if runs.Load() != 1 || info.State.Msgs != 0 {
		t.Fatalf("ran %d times, %d messages left; want once, none", runs.Load(), info.State.Msgs)
	}
}

// Uniqueness does not rest on JetStream's duplicate window: with a window
// of 100ms, an ID enqueued again long after it is still refused.
func TestUniquenessOutlastsTheDuplicateWindow(t *testing.T) {
	b := brokertest.Start(t)
	js := jsOn(t, b.Connect())
	if _, err := js.CreateStream(ctx(t), jetstream.StreamConfig{
		Name: StreamQueue, Subjects: []string{StreamSubjects()}, Retention: jetstream.WorkQueuePolicy,
		Duplicates: 100 * time.Millisecond,
	}); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, b)
	task, _ := NewTask("later", nil)
	first, err := c.Enqueue(ctx(t), task, TaskID("u1"), ProcessIn(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	brokertest.WaitFor(t, waitTimeout, func() bool { return time.Since(start) > 500*time.Millisecond }, "the window to pass")
	again, err := c.Enqueue(ctx(t), task, TaskID("u1"))
	if err != nil || !again.Duplicate || again.EnqueuedAt != first.EnqueuedAt {
		t.Fatalf("Enqueue after the window = %+v, %v; want the first as a duplicate", again, err)
	}
	info, err := js.Stream(ctx(t), StreamQueue)
	if err != nil {
		t.Fatal(err)
	}
	if n := info.CachedInfo().State.Msgs; n != 1 {
		t.Fatalf("%d messages in the queue, want 1", n)
	}
}

func TestEnqueueRefusesWhatBreaksTheLimits(t *testing.T) {
	b := newBus(t)
	big := &Task{Type: "x", Payload: make([]byte, MaxPayloadSize+1)}
	for name, tc := range map[string]struct {
		task *Task
		opts []Option
	}{
		"nil task":     {nil, nil},
		"no type":      {&Task{}, nil},
		"id with dot":  {&Task{Type: "x"}, []Option{TaskID("a.b")}},
		"id too long":  {&Task{Type: "x"}, []Option{TaskID(string(make([]byte, MaxIDLen+1)))}},
		"queue star":   {&Task{Type: "x"}, []Option{Queue("*")}},
		"group space":  {&Task{Type: "x"}, []Option{Group("a b")}},
		"retry":        {&Task{Type: "x"}, []Option{MaxRetry(-1)}},
		"timeout":      {&Task{Type: "x"}, []Option{Timeout(-time.Second)}},
		"process in":   {&Task{Type: "x"}, []Option{ProcessIn(-time.Second)}},
		"retention":    {&Task{Type: "x"}, []Option{Retention(-time.Second)}},
		"big payload":  {big, nil},
		"content type": {&Task{Type: "x", ContentType: "text/plain"}, nil},
	} {
		if _, err := b.client.Enqueue(ctx(t), tc.task, tc.opts...); !errors.Is(err, ErrInvalidTask) {
			t.Errorf("Enqueue(%s) = %v, want ErrInvalidTask", name, err)
		}
	}
}
