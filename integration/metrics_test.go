package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/metrics/metricstest"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// metricsURL is a free loopback address's /metrics, and the address.
func metricsURL(t *testing.T) (url, addr string) {
	addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	return "http://" + addr + "/metrics", addr
}

// TestMetricsCountWhatHappened scrapes the master and the workers during
// and after a streaming job of one map and one reduce whose map's worker
// is killed with SIGKILL mid-task: every task is counted committed once,
// the killed attempt once as handed back and never as failed, and the
// worker that ran the tasks counts their attempts and durations.
func TestMetricsCountWhatHappened(t *testing.T) {
	b := runBroker(t)
	d := deployOn(t, b.url())
	d.broker = b
	masterURL, masterAddr := metricsURL(t)
	d.masters = append(d.masters, start(t, "master", "--nats", d.url, "--lease", "60s", "--leader-ttl", "1s", "--log-level", "warn", "--metrics", masterAddr))
	var workerURLs []string
	for i := range 2 {
		url, addr := metricsURL(t)
		workerURLs = append(workerURLs, url)
		d.workers = append(d.workers, d.startWorkerWith(i, "--allow-exec", "--metrics", addr))
	}
	d.waitPulling(2)
	for _, url := range workerURLs {
		if got := metricstest.Scrape(t, url)["drover_worker_slots"]; got != 1 {
			t.Errorf("%s: drover_worker_slots = %v, want 1", url, got)
		}
	}

	release := filepath.Join(t.TempDir(), "release")
	input := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(input, []byte(heldInput), 0o644); err != nil {
		t.Fatal(err)
	}
	job := d.submit([]string{input}, "--app", "streaming", "--arg", held("true", release, shellMapper), "--arg", shellReducer, "-r", "1")
	var running int
	brokertest.WaitFor(t, time.Minute, func() bool {
		started := d.events(job, mr.EventStarted)
		if len(started) == 0 {
			return false
		}
		_, err := fmt.Sscanf(started[0].Worker, "w%d", &running)
		return err == nil
	}, "job %s's map to start", job)
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		return metricstest.Scrape(t, workerURLs[running])["drover_worker_slots_busy"] == 1
	}, "worker %d to show its slot busy", running)
	during := metricstest.Scrape(t, masterURL)
	for key, want := range map[string]float64{
		metricstest.Key("drover_jobs", "state", "mapping"):                                                                           1,
		metricstest.Key("drover_tasks_started_total", "phase", "map"):                                                                1,
		metricstest.Key("drover_rpcq_calls_total", "service", "Master", "method", "SubmitExec", "code", "0", "mode", "at-most-once"): 1,
	} {
		if got := during[key]; got != want {
			t.Errorf("master during the map: %s = %v, want %v", key, got, want)
		}
	}

	d.workers[running].kill()
	brokertest.WaitFor(t, time.Minute, func() bool { return len(startsOf(d, job)) > 1 }, "map 0 of job %s to start again", job)
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d.wait(job, nil)

	after := metricstest.Scrape(t, masterURL)
	for key, want := range map[string]float64{
		metricstest.Key("drover_jobs", "state", string(master.JobDone)):    1,
		metricstest.Key("drover_tasks_committed_total", "phase", "map"):    1,
		metricstest.Key("drover_tasks_committed_total", "phase", "reduce"): 1,
		metricstest.Key("drover_tasks_started_total", "phase", "map"):      2,
		metricstest.Key("drover_tasks_started_total", "phase", "reduce"):   1,
		metricstest.Key("drover_tasks_handed_back_total", "phase", "map"):  1,
		metricstest.Key("drover_tasks_failed_total", "phase", "map"):       0,
		metricstest.Key("drover_tasks_failed_total", "phase", "reduce"):    0,
		metricstest.Key("drover_queue_depth"):                              0,
	} {
		if got := after[key]; got != want {
			t.Errorf("master after the job: %s = %v, want %v", key, got, want)
		}
	}
	survivor := metricstest.Scrape(t, workerURLs[1-running])
	for key, want := range map[string]float64{
		metricstest.Key("drover_worker_attempts_total", "phase", "map", "outcome", "committed"):           1,
		metricstest.Key("drover_worker_attempts_total", "phase", "reduce", "outcome", "committed"):        1,
		metricstest.Key("drover_task_attempt_duration_seconds_count", "phase", "map", "app", "streaming"): 1,
		metricstest.Key("drover_worker_slots_busy"):                                                       0,
	} {
		if got := survivor[key]; got != want {
			t.Errorf("surviving worker after the job: %s = %v, want %v", key, got, want)
		}
	}
	if off, ok := survivor["drover_timesvc_bound_seconds"]; !ok || off <= 0 || off > 1 {
		t.Errorf("surviving worker: drover_timesvc_bound_seconds = %v (reported %v), want a bound within a second", off, ok)
	}
}

// TestKVServerMetrics: kvserver --metrics counts its calls by method, code
// and mode, and shows its duplicate table's size.
func TestKVServerMetrics(t *testing.T) {
	url := startBroker(t)
	scrapeURL, addr := metricsURL(t)
	start(t, "kvserver", "--data", t.TempDir(), "--nats", url, "--log-level", "warn", "--metrics", addr)
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c, err := kv.NewClient(nc, rpcq.ExactlyOnce, rpcq.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := timeout(t, time.Minute)
	const appends = 5
	for i := range appends {
		if _, err := c.Append(ctx, "k", fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
	got := metricstest.Scrape(t, scrapeURL)
	key := metricstest.Key("drover_rpcq_calls_total", "service", kv.ServiceName, "method", "Append", "code", "0", "mode", "exactly-once")
	if got[key] != appends {
		t.Errorf("%s = %v, want %d", key, got[key], appends)
	}
	if n, ok := got[metricstest.Key("drover_rpcq_table_entries", "service", kv.ServiceName)]; !ok || n < 1 {
		t.Errorf("drover_rpcq_table_entries = %v (reported %v), want the calls the table holds", n, ok)
	}
}
