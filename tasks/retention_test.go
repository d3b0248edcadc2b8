package tasks

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
)

// A done task is kept for its Retention and then forgotten, its ID free
// again; an archived one for the client's ArchiveFor.
func TestRetention(t *testing.T) {
	b := newBus(t)
	b.serve(Config{}, map[string]Handler{
		"ok":   func(context.Context, *TaskInfo) (any, error) { return "r", nil },
		"fail": func(context.Context, *TaskInfo) (any, error) { return nil, SkipRetry(errors.New("no")) },
	})
	archiving, err := NewClient(ctx(t), b.js(), ClientConfig{ArchiveFor: 2 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	failing, _ := NewTask("fail", nil)
	if _, err := archiving.Enqueue(ctx(t), failing, TaskID("archived")); err != nil {
		t.Fatal(err)
	}
	b.enqueue("ok", nil, TaskID("brief"))                          // default: a second
	b.enqueue("ok", nil, TaskID("kept"), Retention(3*time.Second)) // three
	keep := map[string]time.Duration{"brief": time.Second, "kept": 3 * time.Second, "archived": 2 * time.Second}
	ended := map[string]time.Time{}
	for _, id := range []string{"brief", "archived", "kept"} {
		done, err := b.client.Wait(ctx(t), id)
		if done == nil || id != "archived" && (err != nil || string(done.Result) == "") {
			t.Fatalf("Wait(%s) = %+v, %v; want it ended, with its result if done", id, done, err)
		}
		ended[id] = done.CompletedAt
	}
	for id, ended := range ended {
		brokertest.WaitFor(t, waitTimeout, func() bool {
			_, err := b.client.Inspect(context.Background(), id)
			return errors.Is(err, ErrTaskNotFound)
		}, "%s forgotten", id)
		// JetStream counts a TTL in whole seconds from when it stored the
		// record, a moment after CompletedAt.
		if kept := time.Since(ended); kept < keep[id]-50*time.Millisecond {
			t.Errorf("%s forgotten %v after its end, want %v or more", id, kept, keep[id])
		}
	}
	if ti := b.enqueue("ok", nil, TaskID("kept"), ProcessIn(time.Hour)); ti.Duplicate {
		t.Fatalf("the ID of a forgotten task is still taken: %+v", ti)
	}
}
