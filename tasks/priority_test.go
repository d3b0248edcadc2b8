package tasks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// Tasks of a low queue enqueued first, then of a high one; a server of
// both starts. With StrictPriority, every high task starts before any
// low one (but the one a second slot may take as the last high one is
// taken); with queues weighted only by their slots, low tasks start at
// once.
func TestStrictPriority(t *testing.T) {
	const n = 8
	for _, tc := range []struct {
		name     string
		priority []string
		strict   bool
	}{
		{"strict", []string{"high", "low"}, true},
		{"weighted", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBus(t)
			for i := range n {
				b.enqueue("low", nil, Queue("low"), TaskID("low-"+string(rune('a'+i))))
			}
			for i := range n {
				b.enqueue("high", nil, Queue("high"), TaskID("high-"+string(rune('a'+i))))
			}
			var mu sync.Mutex
			var order []string
			h := func(_ context.Context, ti *TaskInfo) (any, error) {
				mu.Lock()
				defer mu.Unlock()
				order = append(order, ti.Queue)
				return nil, nil
			}
			b.serve(Config{Queues: map[string]int{"high": 1, "low": 1}, StrictPriority: tc.priority}, map[string]Handler{"low": h, "high": h})
			brokerWait(t, func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(order) == 2*n
			}, "every task run")
			mu.Lock()
			defer mu.Unlock()
			firstLow := slices.Index(order, "low") // how many high tasks started before it
			if tc.strict && firstLow < n-1 {
				t.Errorf("a low task started after %d high ones of %d: %v", firstLow, n, order)
			}
			if !tc.strict && firstLow >= n-1 {
				t.Errorf("without StrictPriority, the first low task started after %d high ones: %v", firstLow, order)
			}
		})
	}
}

// A scheduled task and a retried one of strictly ordered queues still
// run, after their time.
func TestStrictPriorityScheduledAndRetried(t *testing.T) {
	b := newBus(t)
	var mu sync.Mutex
	attempts := map[string]int{}
	b.serve(Config{Queues: map[string]int{"high": 1, "low": 1}, StrictPriority: []string{"high", "low"}, Backoff: Backoff{Base: 50 * time.Millisecond}},
		map[string]Handler{"x": func(_ context.Context, ti *TaskInfo) (any, error) {
			mu.Lock()
			defer mu.Unlock()
			attempts[ti.ID]++
			if ti.ID == "retried" && attempts[ti.ID] == 1 {
				return nil, errors.New("once")
			}
			return nil, nil
		}})
	start := time.Now()
	b.enqueue("x", nil, Queue("low"), TaskID("later"), ProcessIn(300*time.Millisecond))
	b.enqueue("x", nil, Queue("high"), TaskID("retried"))
	done := b.waitState("later", StateDone)
	if ran := done.StartedAt.Sub(start); ran < 300*time.Millisecond {
		t.Errorf("the scheduled task started %v after its enqueue, before its time", ran)
	}
	if ti := b.waitState("retried", StateDone); ti.Attempt != 2 {
		t.Errorf("the retried task took %d attempts, want 2", ti.Attempt)
	}
}

func TestStrictPriorityConfig(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want string
	}{
		{"unknown queue", Config{Queues: map[string]int{"a": 1}, StrictPriority: []string{"a", "b"}}, "queue \"b\" is not in Queues"},
		{"twice", Config{Queues: map[string]int{"a": 1}, StrictPriority: []string{"a", "a"}}, "queue a twice"},
		{"default queue", Config{StrictPriority: []string{"x"}}, "not in Queues"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewServer(nil, tc.cfg)
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("NewServer = %v, want ErrInvalidConfig with %q", err, tc.want)
			}
		})
	}
}
