package tasks

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDue(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	sec := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Second) }
	for _, tc := range []struct {
		name    string
		s       Schedule
		now     time.Time
		want    []time.Time
		skipped int
	}{
		{"every, first after creation", Schedule{Every: 10 * time.Second, Created: sec(3)}, sec(25), []time.Time{sec(10), sec(20)}, 0},
		{"every, none yet", Schedule{Every: 10 * time.Second, Created: sec(3)}, sec(9), nil, 0},
		{"every, a start is due at once", Schedule{Every: 10 * time.Second, Created: sec(3)}, sec(10), []time.Time{sec(10)}, 0},
		{"every, after the last", Schedule{Every: 10 * time.Second, Created: sec(3), Last: sec(20)}, sec(41), []time.Time{sec(30), sec(40)}, 0},
		{"cron", Schedule{Cron: "*/5 * * * *", Created: sec(1)}, sec(11 * 60), []time.Time{sec(300), sec(600)}, 0},
		{"cron descriptor", Schedule{Cron: "@hourly", Created: sec(-1)}, sec(7200), []time.Time{sec(0), sec(3600), sec(7200)}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec, err := tc.s.spec()
			if err != nil {
				t.Fatal(err)
			}
			got, skipped := due(tc.s, spec, tc.now)
			if !slices.Equal(got, tc.want) || skipped != tc.skipped {
				t.Errorf("due = %v, %d skipped, want %v, %d", got, skipped, tc.want, tc.skipped)
			}
		})
	}
	// Long away, only the last maxCatchUp periods are enqueued.
	s := Schedule{Every: time.Second, Created: sec(0)}
	spec, _ := s.spec()
	got, skipped := due(s, spec, sec(365*24*3600))
	if len(got) != maxCatchUp || got[len(got)-1] != sec(365*24*3600) || skipped < 365*24*3600-maxCatchUp-2 {
		t.Errorf("due after a year: %d periods ending %v, %d skipped", len(got), got[len(got)-1], skipped)
	}
}

func TestScheduleValidate(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name string
		s    Schedule
		want string
	}{
		{"no name", Schedule{Every: time.Second, Type: "t", Created: now}, "schedule name"},
		{"both", Schedule{Name: "s", Cron: "@hourly", Every: time.Second, Type: "t", Created: now}, "both"},
		{"neither", Schedule{Name: "s", Type: "t", Created: now}, "interval 0s"},
		{"short interval", Schedule{Name: "s", Every: time.Millisecond, Type: "t", Created: now}, "interval 1ms"},
		{"bad cron", Schedule{Name: "s", Cron: "every day", Type: "t", Created: now}, "cron expression"},
		{"no type", Schedule{Name: "s", Every: time.Second, Created: now}, "type of 0 bytes"},
		{"bad queue", Schedule{Name: "s", Every: time.Second, Type: "t", Queue: "a.b", Created: now}, "queue"},
		{"name too long for IDs", Schedule{Name: strings.Repeat("n", MaxQueueLen+1), Every: time.Second, Type: "t", Created: now}, "schedule name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.s.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate = %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// Two schedulers at once, as around a failover, then none for a while,
// then one again: every period since the schedule was set is enqueued,
// and runs, once.
func TestSchedulerEnqueuesEachPeriodOnce(t *testing.T) {
	b := newBus(t)
	var mu sync.Mutex
	runs := map[string]int{}
	b.serve(Config{}, map[string]Handler{"tick": func(_ context.Context, ti *TaskInfo) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		runs[ti.ID]++
		return nil, nil
	}})
	if err := b.client.SetSchedule(ctx(t), Schedule{Name: "tick", Every: time.Second, Type: "tick", Queue: DefaultQueue}); err != nil {
		t.Fatal(err)
	}
	startScheduler := func() func() {
		s, err := NewScheduler(b.js(), SchedulerConfig{Logger: quiet, Tick: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		sctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(sctx)
		}()
		stop := func() { cancel(); <-done }
		t.Cleanup(stop)
		return stop
	}
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(runs)
	}
	stop1, stop2 := startScheduler(), startScheduler()
	brokerWait(t, func() bool { return count() >= 3 }, "three periods run")
	stop1()
	stop2()
	time.Sleep(2500 * time.Millisecond) // no scheduler for two periods and more: the gap to catch up
	stop3 := startScheduler()
	n := count()
	brokerWait(t, func() bool { return count() >= n+4 }, "the missed periods and the next")
	stop3()
	end := time.Now()

	mu.Lock()
	defer mu.Unlock()
	var starts []int64
	for id, n := range runs {
		if n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
		sec, err := strconv.ParseInt(strings.TrimPrefix(id, "tick-"), 10, 64)
		if err != nil {
			t.Fatalf("task ID %q does not name its period", id)
		}
		starts = append(starts, sec)
	}
	slices.Sort(starts)
	list, err := b.client.Schedules(ctx(t))
	if err != nil || len(list) != 1 {
		t.Fatalf("Schedules = %+v, %v, want one", list, err)
	}
	if first := list[0].Created.Truncate(time.Second).Unix() + 1; starts[0] != first {
		t.Errorf("first period %d, want %d, the first second after the schedule was set", starts[0], first)
	}
	for i := 1; i < len(starts); i++ {
		if starts[i] != starts[i-1]+1 {
			t.Errorf("periods %d and %d enqueued, none between", starts[i-1], starts[i])
		}
	}
	if last := starts[len(starts)-1]; last > end.Unix() {
		t.Errorf("period %d enqueued before it started (the test ended at %d)", last, end.Unix())
	}
	if list[0].Last.Unix() != starts[len(starts)-1] {
		t.Errorf("schedule's Last = %v, want the last period, %d", list[0].Last, starts[len(starts)-1])
	}
	if err := b.client.DeleteSchedule(ctx(t), "tick"); err != nil {
		t.Fatal(err)
	}
	if err := b.client.DeleteSchedule(ctx(t), "tick"); err != ErrScheduleNotFound {
		t.Errorf("DeleteSchedule of a deleted schedule = %v, want ErrScheduleNotFound", err)
	}
}
