package tasks

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A failed task runs again only after its backoff, which is recorded in
// its ProcessAt, and within a moment of it.
func TestRetryRunsAfterItsBackoff(t *testing.T) {
	b := newBus(t)
	ev := newEvents()
	failedAt := make(chan time.Time, 10)
	b.serve(Config{Backoff: Backoff{Base: 600 * time.Millisecond, Max: 2 * time.Second}}, map[string]Handler{
		"flaky": func(_ context.Context, ti *TaskInfo) (any, error) {
			ev.start(ti.ID)
			if ti.Retried < 2 {
				failedAt <- time.Now()
				return nil, errors.New("not yet")
			}
			return "ok", nil
		},
	})
	ti := b.enqueue("flaky", nil, MaxRetry(3), Retention(time.Minute))
	done, err := b.client.Wait(ctx(t), ti.ID)
	if err != nil {
		t.Fatal(err)
	}
	if done.Retried != 2 || done.Attempt != 3 || done.LastError != "" {
		t.Fatalf("done = %+v, want 2 retries in 3 attempts", done)
	}
	// Retry n waits between half and all of Base doubled n-1 times.
	for n, step := range []time.Duration{600 * time.Millisecond, 1200 * time.Millisecond} {
		fail, next := <-failedAt, ev.at(ti.ID, n+1)
		if gap := next.Sub(fail); gap < step/2 || gap > step+time.Second {
			t.Errorf("retry %d ran %v after the failure, want %v to %v", n+1, gap, step/2, step+time.Second)
		}
	}
}

func TestRetryingTaskIsListedWithItsError(t *testing.T) {
	b := newBus(t)
	b.serve(Config{Backoff: Backoff{Base: time.Hour}}, map[string]Handler{
		"fail": func(context.Context, *TaskInfo) (any, error) { return nil, errors.New("boom") },
	})
	ti := b.enqueue("fail", nil)
	got := b.waitState(ti.ID, StateRetrying)
	if got.Retried != 1 || got.LastError != "boom" || got.ProcessAt.Before(time.Now().Add(20*time.Minute)) {
		t.Fatalf("retrying task = %+v, want retry 1 of boom in half an hour or more", got)
	}
	list, err := b.client.List(ctx(t), DefaultQueue, StateRetrying)
	if err != nil || len(list) != 1 || list[0].ID != ti.ID {
		t.Fatalf("List(retrying) = %v, %v; want %s", list, err, ti.ID)
	}
}

func TestSkipRetryArchivesAtOnce(t *testing.T) {
	b := newBus(t)
	var runs atomic.Int32
	b.serve(Config{}, map[string]Handler{
		"bad": func(context.Context, *TaskInfo) (any, error) {
			runs.Add(1)
			return nil, SkipRetry(errors.New("malformed"))
		},
	})
	ti := b.enqueue("bad", nil, MaxRetry(5))
	_, err := b.client.Wait(ctx(t), ti.ID)
	var failed *FailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.LastError, "malformed") {
		t.Fatalf("Wait = %v, want a *FailedError saying malformed", err)
	}
	if got := b.waitState(ti.ID, StateArchived); got.Retried != 0 || runs.Load() != 1 {
		t.Fatalf("archived after %d runs, %d retries; want 1 run, no retry", runs.Load(), got.Retried)
	}
}

// A task that used up its retries is archived; re-run, it starts again
// from its first attempt.
func TestArchivedTaskReruns(t *testing.T) {
	b := newBus(t)
	var healed atomic.Bool
	var runs atomic.Int32
	b.serve(Config{Backoff: Backoff{Base: 20 * time.Millisecond}}, map[string]Handler{
		"heals": func(context.Context, *TaskInfo) (any, error) {
			runs.Add(1)
			if !healed.Load() {
				return nil, errors.New("broken")
			}
			return "healed", nil
		},
	})
	ti := b.enqueue("heals", nil, MaxRetry(2), TaskID("h1"), Group("g"), Retention(time.Minute))
	archived := b.waitState(ti.ID, StateArchived)
	if archived.Retried != 2 || archived.LastError != "broken" || runs.Load() != 3 {
		t.Fatalf("archived = %+v after %d runs; want 2 retries of broken, 3 runs", archived, runs.Load())
	}
	if err := b.client.WaitGroup(ctx(t), "g"); err != nil {
		t.Fatalf("WaitGroup of a group whose task is archived: %v", err)
	}
	if list, err := b.client.List(ctx(t), "", StateArchived); err != nil || len(list) != 1 {
		t.Fatalf("List(archived) = %v, %v; want h1", list, err)
	}
	healed.Store(true)
	if _, err := b.client.Rerun(ctx(t), "h1"); err != nil {
		t.Fatal(err)
	}
	done, err := b.client.Wait(ctx(t), "h1")
	if err != nil || done.Retried != 0 || runs.Load() != 4 {
		t.Fatalf("Wait after Rerun = %+v, %v after %d runs; want done at once, 4 runs", done, err, runs.Load())
	}
	if _, err := b.client.Rerun(ctx(t), "h1"); !errors.Is(err, ErrWrongState) {
		t.Fatalf("Rerun of a done task: %v, want ErrWrongState", err)
	}
}

func TestTimeoutEndsAnAttempt(t *testing.T) {
	b := newBus(t)
	b.serve(Config{}, map[string]Handler{
		"slow": func(ctx context.Context, _ *TaskInfo) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	start := time.Now()
	ti := b.enqueue("slow", nil, Timeout(300*time.Millisecond), MaxRetry(0))
	_, err := b.client.Wait(ctx(t), ti.ID)
	var failed *FailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.LastError, "deadline exceeded") {
		t.Fatalf("Wait = %v, want the attempt's deadline exceeded", err)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 5*time.Second {
		t.Fatalf("the attempt ended after %v, want about 300ms", took)
	}
}

func TestDeadlineArchivesATaskNotStarted(t *testing.T) {
	b := newBus(t)
	var runs atomic.Int32
	b.serve(Config{}, map[string]Handler{
		"late": func(context.Context, *TaskInfo) (any, error) { runs.Add(1); return nil, nil },
	})
	ti := b.enqueue("late", nil, ProcessIn(time.Second), Deadline(time.Now().Add(300*time.Millisecond)))
	_, err := b.client.Wait(ctx(t), ti.ID)
	var failed *FailedError
	if !errors.As(err, &failed) || failed.LastError != ErrDeadline.Error() || runs.Load() != 0 {
		t.Fatalf("Wait = %v after %d runs, want ErrDeadline and no run", err, runs.Load())
	}
}

func TestDeadlineEndsARunningAttemptAndItsRetries(t *testing.T) {
	b := newBus(t)
	b.serve(Config{Backoff: Backoff{Base: time.Second}}, map[string]Handler{
		"slow": func(ctx context.Context, _ *TaskInfo) (any, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		},
	})
	deadline := time.Now().Add(500 * time.Millisecond)
	ti := b.enqueue("slow", nil, Deadline(deadline), MaxRetry(10))
	got, err := b.client.Wait(ctx(t), ti.ID)
	var failed *FailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.LastError, "deadline") || got.Attempt != 1 {
		t.Fatalf("Wait = %+v, %v; want archived past its deadline after one attempt", got, err)
	}
	if got.CompletedAt.Before(deadline) {
		t.Fatalf("archived at %v, before its deadline %v", got.CompletedAt, deadline)
	}
}

func TestHandlerPanicFailsTheAttempt(t *testing.T) {
	b := newBus(t)
	b.serve(Config{}, map[string]Handler{
		"panics": func(context.Context, *TaskInfo) (any, error) { panic("oops") },
	})
	ti := b.enqueue("panics", nil, MaxRetry(0))
	_, err := b.client.Wait(ctx(t), ti.ID)
	var failed *FailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.LastError, "oops") {
		t.Fatalf("Wait = %v, want the panic as the task's error", err)
	}
}

func TestTaskOfUnknownTypeFails(t *testing.T) {
	b := newBus(t)
	b.serve(Config{}, nil)
	ti := b.enqueue("nobody-handles", nil, MaxRetry(0))
	_, err := b.client.Wait(ctx(t), ti.ID)
	var failed *FailedError
	if !errors.As(err, &failed) || !strings.Contains(failed.LastError, ErrNoHandler.Error()) {
		t.Fatalf("Wait = %v, want ErrNoHandler", err)
	}
}
