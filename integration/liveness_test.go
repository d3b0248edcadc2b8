package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
)

// workerLossBound is how soon a killed worker's task must start again on
// another worker, whatever the lease.
const workerLossBound = 3 * time.Second

// heldInput is the input of heldJob.
const heldInput = "the quick fox\nthe lazy dog\n"

// heldJob runs, on a broker with a master whose lease is far longer than
// any test waits, two workers and a one-map streaming job whose mapper
// waits for the file release; it returns once the map has started, with
// the job, the index of the worker running it, and release.
func heldJob(t *testing.T) (d *deployment, job string, running int, release string) {
	t.Helper()
	b := runBroker(t)
	d = deployOn(t, b.url())
	d.broker = b
	d.masters = append(d.masters, start(t, "master", "--nats", d.url, "--lease", "60s", "--leader-ttl", "1s", "--log-level", "info"))
	for i := range 2 {
		d.workers = append(d.workers, d.startWorkerWith(i, "--allow-exec"))
	}
	d.waitPulling(2)
	release = filepath.Join(t.TempDir(), "release")
	input := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(input, []byte(heldInput), 0o644); err != nil {
		t.Fatal(err)
	}
	job = d.submit([]string{input}, "--app", "streaming", "--arg", held("true", release, shellMapper), "--arg", shellReducer, "-r", "1")
	var started []mr.Event
	brokertest.WaitFor(t, time.Minute, func() bool {
		started = d.events(job, mr.EventStarted)
		return len(started) > 0
	}, "job %s's map to start", job)
	for i := range d.workers {
		if started[0].Worker == fmt.Sprint("w", i) {
			return d, job, i, release
		}
	}
	t.Fatalf("map 0 started on %q, no worker of the test", started[0].Worker)
	return
}

// startsOf are the workers that started the job's map 0, in order.
func startsOf(d *deployment, job string) []string {
	var workers []string
	for _, ev := range d.events(job, mr.EventStarted) {
		if ev.Phase == mr.PhaseMap && ev.Index == 0 {
			workers = append(workers, ev.Worker)
		}
	}
	return workers
}

// TestWorkerKilledTaskMovesAtOnce: the worker running a task is killed
// with SIGKILL; with a lease of a minute, the task starts on the other
// worker within workerLossBound, the same attempt, and the job's output
// is the sequential run's.
func TestWorkerKilledTaskMovesAtOnce(t *testing.T) {
	d, job, running, release := heldJob(t)
	d.workers[running].kill()
	killed := time.Now()
	var took time.Duration
	brokertest.WaitFor(t, time.Minute, func() bool {
		took = time.Since(killed)
		return len(startsOf(d, job)) > 1
	}, "map 0 of job %s to start again", job)
	t.Logf("map 0 started again %v after its worker was killed", took.Round(time.Millisecond))
	if took > workerLossBound {
		t.Errorf("map 0 started again %v after its worker was killed, want at most %v", took, workerLossBound)
	}
	again := d.events(job, mr.EventStarted)
	if last := again[len(again)-1]; last.Attempt != 1 || last.Worker == again[0].Worker {
		t.Errorf("map 0 started again as attempt %d on %s, want attempt 1 on the other worker", last.Attempt, last.Worker)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d.wait(job, nil)
	in := mr.NamedInput{Name: "in.txt", Data: []byte(heldInput)}
	d.checkOutputIs(job, sequentialStreaming(t, shellMapper, shellReducer, []mr.NamedInput{in}, 1))
}

// TestWorkerPausedNotDuplicated: the worker running a task is stopped
// with SIGSTOP for several probes' time, far less than its lease, and
// continued; it is alive and connected all along, so its task runs
// nowhere else.
func TestWorkerPausedNotDuplicated(t *testing.T) {
	d, job, running, release := heldJob(t)
	p := d.workers[running].cmd.Process
	if err := p.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * workerLossBound) // the pause's length, not a wait for a condition
	if err := p.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d.wait(job, nil)
	if got := startsOf(d, job); len(got) != 1 {
		t.Errorf("map 0 started on %q, want once, on the paused worker", got)
	}
}

// TestKilledWorkersScratchRemoved: what a worker killed with SIGKILL left
// in its temporary directory is removed by the next worker to start
// there.
func TestKilledWorkersScratchRemoved(t *testing.T) {
	d := deploy(t, 0)
	tmp := t.TempDir()
	scratch := func() []string {
		dirs, _ := filepath.Glob(filepath.Join(tmp, "drover-worker-*"))
		return dirs
	}
	killed := d.startWorkerWith(0, "--temp-dir", tmp)
	brokertest.WaitFor(t, time.Minute, func() bool { return len(scratch()) == 1 }, "the worker's scratch directory")
	left := scratch()[0]
	if err := os.WriteFile(filepath.Join(left, "spill-0"), []byte("a sorted run"), 0o600); err != nil {
		t.Fatal(err)
	}
	killed.kill()
	d.workers = append(d.workers, d.startWorkerWith(1, "--temp-dir", tmp))
	brokertest.WaitFor(t, time.Minute, func() bool {
		dirs := scratch()
		return len(dirs) == 1 && dirs[0] != left
	}, "the killed worker's scratch directory to go, and the new worker's alone to stay")
}
