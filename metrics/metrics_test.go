package metrics_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/metrics/metricstest"
)

type state struct{}

func (state) JobsByState() map[string]int { return map[string]int{"done": 2, "mapping": 1} }
func (state) QueueDepth() (int, bool)     { return 7, true }

func TestMaster(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := metrics.NewMaster(reg, state{})
	if err != nil {
		t.Fatal(err)
	}
	m.Started("map")
	m.Started("map")
	m.Committed("map", 3)
	m.Failed("reduce")
	m.HandedBack("map")
	m.Retried("map", "backup")
	m.Retried("reduce", "failed")
	m.Backups(1, 0)
	m.Reused(4)
	var none *metrics.Master // counts nothing, and does not panic
	none.Started("map")
	want := `
# HELP drover_backups_launched_total Backup attempts of stragglers published.
# TYPE drover_backups_launched_total counter
drover_backups_launched_total 1
# HELP drover_backups_won_total Tasks whose backup attempt committed first.
# TYPE drover_backups_won_total counter
drover_backups_won_total 1
# HELP drover_jobs Jobs the master knows, by state.
# TYPE drover_jobs gauge
drover_jobs{state="done"} 2
drover_jobs{state="mapping"} 1
# HELP drover_maps_reused_total Map tasks committed with an earlier job's output, not run.
# TYPE drover_maps_reused_total counter
drover_maps_reused_total 4
# HELP drover_queue_depth Tasks waiting in the task queue (published, not yet acknowledged).
# TYPE drover_queue_depth gauge
drover_queue_depth 7
# HELP drover_records_skipped_total Bad input records that committed map tasks skipped.
# TYPE drover_records_skipped_total counter
drover_records_skipped_total 3
# HELP drover_tasks_started_total Task attempts workers reported started, by phase.
# TYPE drover_tasks_started_total counter
drover_tasks_started_total{phase="map"} 2
`
	names := []string{"drover_backups_launched_total", "drover_backups_won_total", "drover_jobs", "drover_maps_reused_total",
		"drover_queue_depth", "drover_records_skipped_total", "drover_tasks_started_total"}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), names...); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(reg, "drover_tasks_retried_total"); n != 2 {
		t.Errorf("drover_tasks_retried_total series = %d, want 2", n)
	}
}

func TestWorker(t *testing.T) {
	reg := prometheus.NewRegistry()
	w, err := metrics.NewWorker(reg)
	if err != nil {
		t.Fatal(err)
	}
	w.Slots(2)
	end := w.Begin("map", "wordcount")
	if got := gauge(t, reg, "drover_worker_slots_busy"); got != 1 {
		t.Errorf("busy during an attempt = %v, want 1", got)
	}
	end(metrics.OutcomeCommitted)
	w.Begin("reduce", "wordcount")(metrics.OutcomeHandedBack)
	if n := testutil.CollectAndCount(reg, "drover_task_attempt_duration_seconds"); n != 1 {
		t.Errorf("duration series = %d, want 1: a handed-back attempt is not timed", n)
	}
	if n := testutil.CollectAndCount(reg, "drover_worker_attempts_total"); n != 2 {
		t.Errorf("attempt series = %d, want 2", n)
	}
	if got := gauge(t, reg, "drover_worker_slots_busy"); got != 0 {
		t.Errorf("busy after = %v, want 0", got)
	}
}

// gauge is the value of the one series of a gauge reg gathers.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == name {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

type clock struct{ synced bool }

func (c clock) Now() time.Time       { return time.Now().Add(time.Second) }
func (c clock) Bound() time.Duration { return 2 * time.Millisecond }
func (c clock) Synced() bool         { return c.synced }

func TestClockAndServe(t *testing.T) {
	reg := metrics.NewRegistry()
	c := &clock{}
	if err := metrics.NewClock(reg, c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop, err := metrics.Start(ctx, "127.0.0.1:0", reg, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := metrics.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- metrics.Serve(ctx, ln, reg, nil) }()
	url := "http://" + ln.Addr().String() + metrics.Path
	if got := metricstest.Scrape(t, url); len(got) == 0 || got["drover_timesvc_offset_seconds"] != 0 {
		t.Errorf("before a sync: offset %v, want none", got["drover_timesvc_offset_seconds"])
	}
	c.synced = true
	got := metricstest.Scrape(t, url)
	if off := got["drover_timesvc_offset_seconds"]; off < 0.9 || off > 1.1 {
		t.Errorf("offset = %v, want about 1 s", off)
	}
	if b := got["drover_timesvc_bound_seconds"]; b != 0.002 {
		t.Errorf("bound = %v, want 0.002", b)
	}
	if _, ok := got["go_goroutines"]; !ok {
		t.Error("no go_goroutines: the registry lacks the Go collector")
	}
	cancel()
	if err := <-served; err != nil {
		t.Errorf("Serve after ctx ended = %v, want nil", err)
	}
	stop()
}
