package tasks

import (
	"context"
	"testing"
	"time"
)

// A scheduled task does not run before its time, and runs within a
// second after it.
func TestScheduledTaskRunsOnTime(t *testing.T) {
	b := newBus(t)
	ev := newEvents()
	b.serve(Config{}, map[string]Handler{
		"tick": func(_ context.Context, ti *TaskInfo) (any, error) { ev.start(ti.ID); return nil, nil },
	})
	at := time.Now().Add(1500 * time.Millisecond)
	tasks := map[string]time.Time{b.enqueue("tick", nil, ProcessAt(at)).ID: at}
	in := b.enqueue("tick", nil, ProcessIn(700*time.Millisecond))
	tasks[in.ID] = in.ProcessAt
	for id := range tasks {
		if got := b.waitState(id, StateScheduled); got.ProcessAt.IsZero() {
			t.Fatalf("scheduled task %+v has no ProcessAt", got)
		}
	}
	if list, err := b.client.List(ctx(t), DefaultQueue, StateScheduled); err != nil || len(list) != len(tasks) {
		t.Fatalf("List(scheduled) = %d tasks, %v; want %d", len(list), err, len(tasks))
	}
	for id, when := range tasks {
		b.waitState(id, StateDone)
		start := ev.at(id, 0)
		if start.Before(when) || start.After(when.Add(time.Second)) {
			t.Errorf("task due at %v started at %v: want within a second after", when, start)
		}
	}
}
