package tasks

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
)

// A task whose worker dies (its connection closes mid-task, with no ack)
// runs again on another worker once its lease has run out, and the lost
// attempt counts as a retry.
func TestTaskOfADeadWorkerRunsElsewhereAfterItsLease(t *testing.T) {
	const lease = time.Second
	b := newBus(t)
	blA, blB := newBlocker(), newBlocker()
	a := b.serve(Config{Lease: lease}, map[string]Handler{"block": blA.handle})
	ti := b.enqueue("block", nil, Retention(time.Minute))
	recv(t, blA.started, "start on A")
	startA := time.Now()
	srvB := b.serve(Config{Lease: lease}, map[string]Handler{"block": func(ctx context.Context, ti *TaskInfo) (any, error) {
		blB.started <- ti.ID
		return "B", nil
	}})
	a.nc.Close() // A dies: no heartbeat, no ack
	recv(t, blB.started, "start on B")
	if gap := time.Since(startA); gap < lease-100*time.Millisecond {
		t.Fatalf("B started %v after A: before A's lease of %v ran out", gap, lease)
	}
	done, err := b.client.Wait(ctx(t), ti.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Worker != srvB.ID() || done.Retried != 1 || done.Attempt != 2 {
		t.Fatalf("done = %+v, want done by %s on its second attempt, one retry", done, srvB.ID())
	}
	// A's handler learns that its heartbeats stopped getting through.
	if err := recv(t, blA.ended, "end of A's handler"); !errors.Is(err, context.Canceled) {
		t.Fatalf("A's handler ended with %v", err)
	}
}

// A lost lease on the last allowed attempt archives the task.
func TestLostLeaseOnTheLastAttemptArchives(t *testing.T) {
	const lease = 500 * time.Millisecond
	b := newBus(t)
	blA := newBlocker()
	a := b.serve(Config{Lease: lease}, map[string]Handler{"block": blA.handle})
	ti := b.enqueue("block", nil, MaxRetry(0))
	recv(t, blA.started, "start on A")
	b.serve(Config{Lease: lease}, map[string]Handler{"block": func(context.Context, *TaskInfo) (any, error) {
		t.Error("the task ran twice")
		return nil, nil
	}})
	a.nc.Close()
	_, err := b.client.Wait(ctx(t), ti.ID)
	var failed *FailedError
	if !errors.As(err, &failed) || failed.LastError != ErrLeaseExpired.Error() {
		t.Fatalf("Wait = %v, want archived with ErrLeaseExpired", err)
	}
}

// A server that stops hands its running task back: it runs again at once
// elsewhere, long before its lease, and no retry is counted.
func TestStoppedServerHandsItsTaskBack(t *testing.T) {
	b := newBus(t)
	blA := newBlocker()
	a := b.serve(Config{Lease: time.Minute}, map[string]Handler{"block": blA.handle})
	ti := b.enqueue("block", nil, MaxRetry(0), Retention(time.Minute))
	recv(t, blA.started, "start on A")
	a.stop()
	if err := recv(t, blA.ended, "end of A's handler"); !errors.Is(err, context.Canceled) {
		t.Fatalf("A's handler ended with %v", err)
	}
	if got := b.waitState(ti.ID, StatePending); got.Retried != 0 {
		t.Fatalf("handed back task = %+v, want no retry counted", got)
	}
	start := time.Now()
	b.serve(Config{Lease: time.Minute}, map[string]Handler{"block": func(context.Context, *TaskInfo) (any, error) { return nil, nil }})
	done, err := b.client.Wait(ctx(t), ti.ID)
	if err != nil || done.Retried != 0 || done.Attempt != 2 {
		t.Fatalf("Wait = %+v, %v; want done on the second attempt, no retry", done, err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("the task waited %v: it waited out its lease", took)
	}
}

// A copy of a claimed run's message, published by mistake or in malice,
// neither runs the task a second time nor counts as a lost lease.
func TestCopyOfAClaimedMessageIsDropped(t *testing.T) {
	b := newBus(t)
	bl := newBlocker()
	var runs atomic.Int32
	b.serve(Config{Lease: time.Minute}, map[string]Handler{"block": func(ctx context.Context, ti *TaskInfo) (any, error) {
		runs.Add(1)
		return bl.handle(ctx, ti)
	}})
	ti := b.enqueue("block", nil, TaskID("c1"), Timeout(3*time.Second), MaxRetry(0))
	recv(t, bl.started, "start")
	r, _, err := b.client.st.get(ctx(t), "c1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.js().Publish(ctx(t), QueueSubject(DefaultQueue, ti.ID), []byte(r.Run)); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, waitTimeout, func() bool { return b.queueMessages() == 1 }, "the copy dropped")
	_, err = b.client.Wait(ctx(t), "c1")
	var failed *FailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.LastError, "deadline exceeded") || runs.Load() != 1 {
		t.Fatalf("Wait = %v after %d runs; want the one attempt's timeout, one run", err, runs.Load())
	}
}
