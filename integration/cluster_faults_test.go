package integration

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
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

// TestClusterMasterPartitioned: the leading master's node is cut off from
// the other two and from every client but that master, mid-map. The
// master, which knows that node alone, stops leading once its lease runs
// out; the standby, on a node of the majority, leads only after that,
// carries the job on and runs a job submitted during the partition. Both
// outputs are the sequential run's, and no two terms of the masters, as
// their logs tell them, overlap: a term ends when its lease expires (the
// master's work stops then) or it steps down, before the next begins.
//
// Everything but the first master knows the two other nodes alone, so
// that the cut-off node holds no client of the majority's side. Every wait
// polls with a deadline, and the masters' logs are read on the one clock
// of this machine. The job submitted during the
// partition is small: on the majority's side, writes of whole 128 KiB
// object chunks may time out for as long as a node is silently cut off,
// while small writes pass.
func TestClusterMasterPartitioned(t *testing.T) {
	files, inputs := books(t)
	small, smallInputs := smallBooks(t, inputs, 2, 8<<10)
	c := brokertest.StartCluster(t, 3)
	d := deployOn(t, c.URL(1)+","+c.URL(2))
	startMasterOn := func(i int) *process {
		return start(t, "master", "--nats", c.URL(i), "--replicas", "3", "--lease", lease, "--leader-ttl", "1s", "--log-level", "info")
	}
	d.masters = append(d.masters, startMasterOn(0))
	d.waitLeading()
	d.masters = append(d.masters, startMasterOn(1))
	for i := range 2 {
		d.workers = append(d.workers, d.startWorker(i))
	}
	first, standby := d.masters[0], d.masters[1]

	id := d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "65536")
	var cutAt, healAt time.Time
	var during string
	d.wait(id, func(st master.JobStatus) {
		if !cutAt.IsZero() || st.MapsDone == 0 {
			return
		}
		c.Partition(0)
		cutAt = time.Now()
		t.Logf("partitioned node 0, the leading master's, with %d of %d maps done", st.MapsDone, st.Maps)
		brokertest.WaitFor(t, 2*time.Minute, func() bool { return len(leaderTerms(t, standby)) > 0 },
			"the standby to lead (its output: %s)", standby)
		brokertest.WaitFor(t, 2*time.Minute, func() bool {
			now, err := d.tryStatus(id, 5*time.Second)
			return err == nil && (now.MapsDone >= st.MapsDone+2 || now.State.Ended())
		}, "the job to move on under the standby (%v)", queueState{d})
		t.Logf("the standby leads and acts %v after the cut", time.Since(cutAt).Round(time.Millisecond))
		during = d.submitAgain(time.Minute, small, "--app", "wordcount", "-r", "2", "--split-size", "4096")
		d.wait(during, nil)
		t.Logf("the job submitted during the partition ended %v after the cut", time.Since(cutAt).Round(time.Millisecond))
		c.Heal(0)
		healAt = time.Now()
	})
	if cutAt.IsZero() {
		t.Fatal("the job ended before the partition")
	}
	// The heal may leave JetStream unable to answer for a moment, and
	// the masters step down and take turns meanwhile: the node that comes
	// back, with the higher raft terms it campaigned for alone, makes
	// the streams' leaders step down, the jobs bucket's among them, and a
	// term that cannot renew its lease for a second ends. Wait for one
	// master to have led for a while since the heal, so that a client
	// that looks for a master for a moment only (drover looks for 2 s)
	// finds one.
	c.WaitHealthy(0)
	brokertest.WaitFor(t, 2*time.Minute, func() bool {
		for _, p := range d.masters {
			terms := leaderTerms(t, p)
			if n := len(terms); n > 0 && terms[n-1].end.IsZero() && time.Since(later(terms[n-1].begin, healAt)) > settle {
				return true
			}
		}
		return false
	}, "a master to lead for %v after the heal", settle)
	d.waitLeading()
	d.checkOutput(id, "wordcount", inputs, 3)
	d.checkOutput(during, "wordcount", smallInputs, 2)
	checkAttempts(t, d, id)
	checkAttempts(t, d, during)

	// Never two leaders: every term, of either master, ended before the
	// next began; the standby's first began after the cut.
	firstTerms, standbyTerms := leaderTerms(t, first), leaderTerms(t, standby)
	if len(standbyTerms) == 0 || !standbyTerms[0].begin.After(cutAt) {
		t.Fatalf("the standby's terms %v: want the first after the cut at %v", standbyTerms, cutAt)
	}
	terms := append(slices.Clone(firstTerms), standbyTerms...)
	slices.SortFunc(terms, func(a, b term) int { return a.begin.Compare(b.begin) })
	for i := range len(terms) - 1 {
		if terms[i].end.IsZero() || !terms[i].end.Before(terms[i+1].begin) {
			t.Errorf("a term from %v to %v overlaps the next, from %v", terms[i].begin, terms[i].end, terms[i+1].begin)
		}
	}
	lost := firstTerms[len(firstTerms)-1]
	for _, tm := range firstTerms {
		if tm.begin.Before(cutAt) {
			lost = tm
		}
	}
	t.Logf("%d terms of the first master, %d of the standby; the first master's last before the cut ended %v after the cut, the standby's first began %v after that",
		len(firstTerms), len(standbyTerms), lost.end.Sub(cutAt).Round(time.Millisecond), standbyTerms[0].begin.Sub(lost.end).Round(time.Millisecond))
}

// settle is how long a master must have led, after a heal, for the
// heal's leader elections to be over.
const settle = 3 * time.Second

// later is the later of a and b.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// term is a master's time as leader, by its log: from "master: leading"
// to the first line that says it stopped (its lease expired, it stepped
// down, or it stands by again); end is zero while it leads.
type term struct{ begin, end time.Time }

// leaderTerms are p's terms as leader, in order.
func leaderTerms(t *testing.T, p *process) []term {
	t.Helper()
	var terms []term
	ends := []string{"master: leadership lost: the lease expired", "master: stepping down", "master: no longer leading"}
	for _, line := range logLines(t, p) {
		switch {
		case strings.Contains(line.text, "master: leading"):
			terms = append(terms, term{begin: line.at})
		case len(terms) > 0 && terms[len(terms)-1].end.IsZero() && slices.ContainsFunc(ends, func(e string) bool { return strings.Contains(line.text, e) }):
			terms[len(terms)-1].end = line.at
		}
	}
	return terms
}

// smallBooks writes n files of about size bytes each, whole lines of
// inputs, and returns their paths and contents.
func smallBooks(t *testing.T, inputs []mr.NamedInput, n, size int) ([]string, []mr.NamedInput) {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	var small []mr.NamedInput
	for i := range n {
		data := inputs[i].Data
		if cut := bytes.IndexByte(data[min(size, len(data)):], '\n'); cut >= 0 {
			data = data[:min(size, len(data))+cut+1]
		}
		name := fmt.Sprintf("small-%d.txt", i)
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		small = append(small, mr.NamedInput{Name: name, Data: data})
	}
	return paths, small
}

// submitAgain is submit, run again while it fails, for at most wait: a
// submission is at most once, and one that timed out may have made a job
// of its own, which runs beside the one whose ID it returns.
func (d *deployment) submitAgain(wait time.Duration, files []string, args ...string) string {
	d.t.Helper()
	deadline := time.Now().Add(wait)
	for {
		cmd := exec.Command(filepath.Join(bin, "drover"), append(append([]string{"submit", "--nats", d.url}, args...), files...)...)
		out, err := cmd.Output()
		if err == nil {
			return strings.TrimSpace(string(out))
		}
		if time.Now().After(deadline) {
			d.t.Fatalf("drover submit: %v: %s", err, exitStderr(err))
		}
		d.t.Logf("drover submit: %v: %s; again", err, strings.TrimSpace(exitStderr(err)))
		time.Sleep(time.Second) // the next try, not a wait for a condition
	}
}

// logLine is one line of a process's log and its time.
type logLine struct {
	at   time.Time
	text string
}

// logLines are p's log lines that carry a time.
func logLines(t *testing.T, p *process) []logLine {
	t.Helper()
	stamp := regexp.MustCompile(`^time=(\S+) `)
	var lines []logLine
	sc := bufio.NewScanner(strings.NewReader(p.String()))
	for sc.Scan() {
		m := stamp.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, m[1])
		if err != nil {
			t.Fatalf("log time %q: %v", m[1], err)
		}
		lines = append(lines, logLine{at, sc.Text()})
	}
	return lines
}

// queueState describes the task queue as the cluster sees it, when a
// wait for the job to move on fails: the leaders of the task stream and
// of the workers' consumer, and what the consumer holds.
type queueState struct{ d *deployment }

func (q queueState) String() string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	store, err := mr.Bind(ctx, q.d.nc)
	if err != nil {
		return fmt.Sprintf("bind: %v", err)
	}
	stream, err := store.Tasks.Info(ctx)
	if err != nil {
		return fmt.Sprintf("task stream: %v", err)
	}
	consumer, err := store.Workers.Info(ctx)
	if err != nil {
		return fmt.Sprintf("workers' consumer: %v", err)
	}
	return fmt.Sprintf("task stream: %d messages, sequences %d to %d, cluster %+v; workers' consumer: %d pending, %d unacknowledged, %d pulls waiting, delivered %d, acknowledged to %d, cluster %+v",
		stream.State.Msgs, stream.State.FirstSeq, stream.State.LastSeq, stream.Cluster, consumer.NumPending, consumer.NumAckPending, consumer.NumWaiting,
		consumer.Delivered.Stream, consumer.AckFloor.Stream, consumer.Cluster)
}
