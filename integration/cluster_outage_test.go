package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/master"
)

// brokerCluster is n broker processes forming one JetStream cluster, each
// killable with SIGKILL and restartable on its own ports and store.
type brokerCluster struct {
	nodes []*brokerProcess
}

// runBrokerCluster starts a cluster of n broker processes, each with
// flags besides its address, store, name and routes.
func runBrokerCluster(t *testing.T, n int, flags ...string) *brokerCluster {
	t.Helper()
	routes := make([]string, n)
	for i := range routes {
		routes[i] = "127.0.0.1:" + strconv.Itoa(freePort(t))
	}
	c := &brokerCluster{}
	for i := range n {
		var others []string
		for j, r := range routes {
			if j != i {
				others = append(others, "nats://"+r)
			}
		}
		c.nodes = append(c.nodes, &brokerProcess{t: t, addr: "127.0.0.1:" + strconv.Itoa(freePort(t)), store: t.TempDir(),
			flags: append([]string{"--name", fmt.Sprint("n", i), "--cluster-name", "drover-it", "--cluster", routes[i],
				"--routes", strings.Join(others, ","), "--log-level", "info"}, flags...)})
	}
	c.startAll()
	t.Cleanup(func() {
		if t.Failed() {
			for i, b := range c.nodes {
				t.Logf("broker %d:\n%s", i, b.process)
			}
		}
	})
	return c
}

// urls is every node's client URL, comma-separated.
func (c *brokerCluster) urls() string {
	var urls []string
	for _, b := range c.nodes {
		urls = append(urls, b.url())
	}
	return strings.Join(urls, ",")
}

// startAll starts every node and waits until each listens; each waits
// for a quorum of its own accord.
func (c *brokerCluster) startAll() {
	for _, b := range c.nodes {
		b.restart()
	}
}

// killAll kills every node with SIGKILL at once.
func (c *brokerCluster) killAll() {
	var wg sync.WaitGroup
	for _, b := range c.nodes {
		wg.Go(b.kill)
	}
	wg.Wait()
}

// TestClusterAllNodesKilled: every node of a cluster that fsyncs each
// write (--sync-interval always) is killed with SIGKILL at once, mid-map,
// and started again; the master, the workers and the job carry on, and
// the output is the sequential run's.
func TestClusterAllNodesKilled(t *testing.T) {
	files, inputs := books(t)
	c := runBrokerCluster(t, 3, "--sync-interval", "always")
	d := deployOn(t, c.urls())
	d.masters = append(d.masters, d.startClusterMaster())
	d.waitLeading()
	for i := range 2 {
		d.workers = append(d.workers, d.startWorker(i))
	}
	id := d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "65536")
	killed := false
	st := d.wait(id, func(st master.JobStatus) {
		if !killed && st.MapsDone > 0 && st.MapsDone < st.Maps {
			c.killAll()
			c.startAll()
			killed = true
			t.Logf("killed and restarted every node with %d of %d maps done", st.MapsDone, st.Maps)
		}
	})
	if !killed {
		t.Fatalf("the job's %d maps ended before the kill", st.Maps)
	}
	d.checkOutput(id, "wordcount", inputs, 3)
	checkAttempts(t, d, id)
	for i, p := range append(d.masters, d.workers...) {
		select {
		case <-p.done:
			t.Errorf("process %d exited through the outage:\n%s", i, p)
		default:
		}
	}
}

// TestWaitOutlivesMaster: `drover submit --wait` follows its job through
// the death of the only master and the start of another, saying that it
// still waits, and exits 0 once the job is done.
func TestWaitOutlivesMaster(t *testing.T) {
	files, inputs := books(t)
	release := filepath.Join(t.TempDir(), "release")
	d := deploy(t, 0)
	for i := range 2 { // one holds reduce 0 while the other runs reduce 1
		d.workers = append(d.workers, d.startWorkerWith(i, "--allow-exec"))
	}
	d.waitPulling(2)
	reducer := held(`[ "$MR_PARTITION" = 0 ]`, release, shellReducer)
	submit := start(t, "drover", append([]string{"submit", "--nats", d.url, "--wait", "--app", "streaming",
		"--arg", shellMapper, "--arg", reducer, "-r", "2"}, files...)...)
	var id string
	brokertest.WaitFor(t, time.Minute, func() bool {
		id, _, _ = strings.Cut(submit.String(), "\n")
		return strings.Contains(submit.String(), "reduce 1/2")
	}, "drover submit --wait to show a reduce committed (its output: %s)", submit)
	d.masters[0].kill()
	brokertest.WaitFor(t, time.Minute, func() bool { return strings.Contains(submit.String(), "the master does not answer") },
		"drover submit --wait to say that the master does not answer (its output: %s)", submit)
	d.masters = append(d.masters, d.startMaster())
	brokertest.WaitFor(t, time.Minute, func() bool { return strings.Contains(submit.String(), "the master answers again") },
		"drover submit --wait to say that the master answers again (its output: %s)", submit)
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-submit.done:
	case <-time.After(time.Minute):
		t.Fatalf("drover submit --wait still runs a minute after the release: %s", submit)
	}
	if code := submit.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("drover submit --wait exited %d: %s", code, submit)
	}
	d.checkOutputIs(strings.TrimSpace(id), sequentialStreaming(t, shellMapper, shellReducer, inputs, 2))
}
