package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// TestClusterTasksLeaderKilled: the node that leads the task stream stops
// hard mid-map, and the node that leads it then stops hard mid-reduce,
// with a reduce held running across the stop; the other two elect a
// leader each time, every process fails over, and the output is the
// sequential run's, with no task run past its attempt limit. Each node
// comes back and catches up before the next stop.
func TestClusterTasksLeaderKilled(t *testing.T) {
	files, inputs := books(t)
	release := filepath.Join(t.TempDir(), "release")
	d, c := deployCluster(t, 0)
	for i := range 3 {
		d.workers = append(d.workers, d.startWorkerWith(i, "--allow-exec"))
	}
	reducer := held(`[ "$MR_PARTITION" = 0 ]`, release, shellReducer)
	id := d.submit(files, "--app", "streaming", "--arg", shellMapper, "--arg", reducer, "-r", "3", "--split-size", "32768")
	stops := 0
	var at, midMap time.Time
	st := d.wait(id, func(st master.JobStatus) {
		switch {
		case stops == 0 && st.MapsDone > 0 && st.MapsDone < st.Maps:
			at = stopTasksLeader(t, d, c, "mid-map", st)
			midMap = at
			stops++
		case stops == 1 && st.State == master.JobReducing && st.ReduceDone > 0:
			at = stopTasksLeader(t, d, c, "mid-reduce", st)
			stops++
			if err := os.WriteFile(release, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})
	if stops < 2 {
		t.Fatalf("the job ended after %d of 2 stops: %d maps", stops, st.Maps)
	}
	t.Logf("the job ended %v after the last stop", time.Since(at).Round(10*time.Millisecond))
	// BENCHMARKS.md's stall: from the stop to the next commit, by the
	// commit record's time in the bucket.
	t.Logf("stall after the mid-map stop: %v", d.firstCommitAfter(id, midMap).Sub(midMap).Round(time.Millisecond))
	d.checkOutputIs(id, sequentialStreaming(t, shellMapper, shellReducer, inputs, 3))
	checkAttempts(t, d, id)
}

// stopTasksLeader stops the node that leads the task stream, as SIGKILL
// would, and starts it again once another has taken the lead: the
// cluster is whole again for the next fault.
func stopTasksLeader(t *testing.T, d *deployment, c *brokertest.Cluster, when string, st master.JobStatus) time.Time {
	t.Helper()
	leader := tasksLeader(t, c)
	c.Stop(leader)
	at := time.Now()
	t.Logf("stopped node %d, the leader of %s, %s: %d of %d maps and %d of %d reduces done",
		leader, mr.StreamTasks, when, st.MapsDone, st.Maps, st.ReduceDone, st.Reduces)
	if now := tasksLeader(t, c); now == leader {
		t.Fatalf("node %d still leads %s after its stop", leader, mr.StreamTasks)
	}
	c.Restart(leader)
	return at
}

// TestClusterRollingRestart: each node in turn is restarted during a job,
// each once the one before is back and current; the output is the
// sequential run's.
func TestClusterRollingRestart(t *testing.T) {
	files, inputs := books(t)
	d, c := deployCluster(t, 3)
	id := d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "32768")
	next := 0
	d.wait(id, func(st master.JobStatus) {
		if next < c.N() && st.MapsDone+st.ReduceDone > next {
			c.Restart(next)
			t.Logf("restarted node %d with %d maps and %d reduces done", next, st.MapsDone, st.ReduceDone)
			next++
		}
	})
	if next < c.N() {
		t.Logf("the job ended after %d of %d restarts", next, c.N())
	}
	d.checkOutput(id, "wordcount", inputs, 3)
	checkAttempts(t, d, id)
}

// TestClusterPartitionLongerThanLease: the node that leads the task stream
// is cut off from its peers and its clients, silently, for longer than
// the task lease, mid-map, then healed; the output is the sequential
// run's.
func TestClusterPartitionLongerThanLease(t *testing.T) {
	files, inputs := books(t)
	d, c := deployCluster(t, 3)
	id := d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "32768")
	cut := -1
	leaseDur, _ := time.ParseDuration(lease)
	st := d.wait(id, func(st master.JobStatus) {
		if cut < 0 && st.MapsDone > 0 && st.MapsDone < st.Maps {
			cut = tasksLeader(t, c)
			c.Partition(cut)
			t.Logf("partitioned node %d, the leader of %s, with %d of %d maps done", cut, mr.StreamTasks, st.MapsDone, st.Maps)
			time.Sleep(2 * leaseDur) // the partition's length, not a wait for a condition
			c.Heal(cut)
		}
	})
	if cut < 0 {
		t.Fatalf("the job's %d maps ended before the partition", st.Maps)
	}
	d.checkOutput(id, "wordcount", inputs, 3)
	checkAttempts(t, d, id)
}

// TestClusterWorkersStartWithMaster: the master and the workers start at
// the same moment on a fresh cluster, as a deployment script starts them;
// every worker waits for the master's setup, none exits, and the job is
// the sequential run's.
func TestClusterWorkersStartWithMaster(t *testing.T) {
	files, inputs := books(t)
	d, _ := clusterMaster(t)
	for i := range 3 {
		d.workers = append(d.workers, d.startWorker(i))
	}
	d.waitLeading()
	id := d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "65536")
	d.wait(id, nil)
	d.checkOutput(id, "wordcount", inputs, 3)
	for i, w := range d.workers {
		select {
		case <-w.done:
			t.Errorf("worker %d exited during the job: %s", i, w.String())
		default:
		}
	}
}
