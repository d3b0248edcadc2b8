package integration

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/rpcq"
)

const lease = "2s"

// deployment is a broker, a master and workers, each a process.
type deployment struct {
	t       *testing.T
	url     string
	broker  *brokerProcess
	workers []*process
	masters []*process
	nc      *nats.Conn
	client  *rpcq.Client
}

func deploy(t *testing.T, workers int) *deployment {
	t.Helper()
	b := runBroker(t)
	d := deployOn(t, b.url())
	d.broker = b
	d.masters = append(d.masters, d.startMaster())
	for i := range workers {
		d.workers = append(d.workers, d.startWorker(i))
	}
	d.waitPulling(workers)
	return d
}

// deployOn is a deployment on the servers at urls, with the test's own
// client connected to them.
func deployOn(t *testing.T, urls string) *deployment {
	t.Helper()
	d := &deployment{t: t, url: urls}
	nc, err := nats.Connect(urls, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond),
		nats.PingInterval(time.Second), nats.MaxPingsOutstanding(2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	d.nc = nc
	if d.client, err = rpcq.NewClient(nc, rpcq.ClientConfig{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.client.Close() })
	t.Cleanup(func() {
		if t.Failed() {
			for i, p := range d.masters {
				t.Logf("master %d:\n%s", i, p.String())
			}
			for i, p := range d.workers {
				t.Logf("worker %d:\n%s", i, p.String())
			}
		}
	})
	return d
}

// waitPulling waits until n slots pull from the task queue: workers bind
// once the master has made it, and a job submitted before would run on
// the first alone.
func (d *deployment) waitPulling(n int) {
	d.t.Helper()
	if n == 0 {
		return
	}
	ctx := timeout(d.t, time.Minute)
	var store *mr.Store
	brokertest.WaitFor(d.t, time.Minute, func() bool {
		if store == nil {
			store, _ = mr.Bind(ctx, d.nc)
			if store == nil {
				return false
			}
		}
		info, err := store.Workers.Info(ctx)
		return err == nil && info.NumWaiting >= n
	}, "%d worker slots pulling tasks", n)
}

func (d *deployment) startMaster() *process {
	return start(d.t, "master", "--nats", d.url, "--lease", lease, "--leader-ttl", "1s", "--log-level", "warn")
}

func (d *deployment) startWorker(i int) *process { return d.startWorkerWith(i) }

// books are the test texts, as files and as inputs of mr.Sequential.
func books(t *testing.T) ([]string, []mr.NamedInput) { return mrtest.Books(t) }

// submit runs `drover submit` and returns the job ID.
func (d *deployment) submit(files []string, args ...string) string {
	d.t.Helper()
	cmd := exec.Command(filepath.Join(bin, "drover"), append(append([]string{"submit", "--nats", d.url}, args...), files...)...)
	out, err := cmd.Output()
	if err != nil {
		d.t.Fatalf("drover submit: %v: %s", err, exitStderr(err))
	}
	return strings.TrimSpace(string(out))
}

func exitStderr(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func (d *deployment) status(id string) master.JobStatus {
	d.t.Helper()
	st, err := d.tryStatus(id, 30*time.Second)
	if err != nil {
		d.t.Fatal(err)
	}
	return st
}

// tryStatus asks the master for the job's status, for at most wait.
func (d *deployment) tryStatus(id string, wait time.Duration) (master.JobStatus, error) {
	var st master.JobStatus
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	err := d.client.Call(ctx, "Master.Status", master.JobArgs{ID: id}, &st)
	return st, err
}

// wait waits for the job to end and checks that, when the master says
// done, every output is committed and readable.
func (d *deployment) wait(id string, during func(master.JobStatus)) master.JobStatus {
	d.t.Helper()
	st := d.ended(id, during)
	if st.State != master.JobDone {
		d.t.Fatalf("job %s ended %s: %s", id, st.State, st.Error)
	}
	return st
}

// ended waits for the job to end, however it ends, calling during with
// each status seen before. A master that does not answer for a while, as
// in a failover or an outage of the broker, is asked again.
func (d *deployment) ended(id string, during func(master.JobStatus)) master.JobStatus {
	d.t.Helper()
	var st master.JobStatus
	var last lastError
	brokertest.WaitFor(d.t, 3*time.Minute, func() bool {
		s, err := d.tryStatus(id, 10*time.Second)
		if last.err = err; err != nil {
			return false
		}
		st = s
		if during != nil && !st.State.Ended() {
			during(st)
		}
		return st.State.Ended()
	}, "job %s to end (last status error: %v)", id, &last)
	return st
}

// lastError is the last error seen while waiting, for the message of a
// wait that timed out.
type lastError struct{ err error }

func (l *lastError) String() string { return fmt.Sprint(l.err) }

// checkOutput fetches the outputs with `drover get` and compares them with
// the sequential run.
func (d *deployment) checkOutput(id, app string, inputs []mr.NamedInput, r int) {
	d.t.Helper()
	var reg mr.Registry
	apps.Register(&reg)
	a, _ := reg.New(app, nil)
	want, err := mr.Sequential(timeout(d.t, time.Minute), a, inputs, r)
	if err != nil {
		d.t.Fatal(err)
	}
	d.checkOutputIs(id, want)
}

// checkOutputIs fetches the job's output with `drover get` and compares
// it, partition by partition, with want.
func (d *deployment) checkOutputIs(id string, want [][]byte) {
	d.t.Helper()
	dir := d.t.TempDir()
	if out, err := exec.Command(filepath.Join(bin, "drover"), "get", id, "-o", dir, "--nats", d.url).CombinedOutput(); err != nil {
		d.t.Fatalf("drover get: %v: %s", err, out)
	}
	for p := range want {
		got, err := os.ReadFile(filepath.Join(dir, mr.OutputFile(p)))
		if err != nil || !bytes.Equal(got, want[p]) {
			d.t.Errorf("%s: %d bytes (%v), want %d identical to the sequential run", mr.OutputFile(p), len(got), err, len(want[p]))
		}
	}
}

// events returns the job's events of kind, in order.
func (d *deployment) events(job string, kind mr.EventKind) []mr.Event {
	d.t.Helper()
	js, _ := jetstream.New(d.nc)
	ctx := timeout(d.t, 30*time.Second)
	cons, err := js.OrderedConsumer(ctx, mr.StreamEvents, jetstream.OrderedConsumerConfig{FilterSubjects: []string{mr.EventSubject(job, kind)}})
	if err != nil {
		d.t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		d.t.Fatal(err)
	}
	var evs []mr.Event
	for range info.NumPending {
		msg, err := cons.Next(jetstream.FetchMaxWait(5 * time.Second))
		if err != nil {
			d.t.Fatal(err)
		}
		var ev mr.Event
		json.Unmarshal(msg.Data(), &ev)
		evs = append(evs, ev)
	}
	return evs
}

// TestJobWithoutFailures: three worker processes, no faults. The output is
// byte-identical to the sequential run, every map task runs exactly once,
// and map and reduce tasks run on several workers.
func TestJobWithoutFailures(t *testing.T) {
	files, inputs := books(t)
	d := deploy(t, 3)
	id := d.submit(files, "--app", "wordcount", "-r", "4", "--split-size", "65536")
	st := d.wait(id, nil)
	d.checkOutput(id, "wordcount", inputs, 4)

	started := map[string]int{}
	workers := map[mr.Phase]map[string]bool{mr.PhaseMap: {}, mr.PhaseReduce: {}}
	for _, ev := range d.events(id, mr.EventStarted) {
		started[fmt.Sprintf("%s/%d", ev.Phase, ev.Index)]++
		workers[ev.Phase][ev.Worker] = true
	}
	for n := range st.Maps {
		if c := started[fmt.Sprintf("map/%d", n)]; c != 1 {
			t.Errorf("map %d started %d times, want exactly once", n, c)
		}
	}
	if len(workers[mr.PhaseMap]) < 2 {
		t.Errorf("%d map tasks ran on %d workers, want several in parallel", st.Maps, len(workers[mr.PhaseMap]))
	}
	if len(workers[mr.PhaseReduce]) < 2 {
		t.Errorf("4 reduce tasks ran on %d workers, want several in parallel", len(workers[mr.PhaseReduce]))
	}
}

// TestWorkersKilledMidJob: workers are killed with SIGKILL at random
// moments during a job and restarted; the output is still byte-identical.
func TestWorkersKilledMidJob(t *testing.T) {
	files, inputs := books(t)
	d := deploy(t, 3)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	id := d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "32768")
	kills, lastDone := 0, -1
	d.wait(id, func(st master.JobStatus) {
		done := st.MapsDone + st.ReduceDone
		if kills < 4 && done > lastDone && rng.IntN(3) == 0 {
			i := rng.IntN(len(d.workers))
			d.workers[i].kill()
			d.workers[i] = d.startWorker(i)
			kills++
			lastDone = done
		}
	})
	d.checkOutput(id, "wordcount", inputs, 3)
	if kills == 0 {
		t.Log("the job ended before any worker was killed")
	}
	t.Logf("%d workers killed", kills)
}

// TestLeaderKilledMidJob: two masters; the leader is killed with SIGKILL
// mid-map; the standby takes over and finishes the job with the right
// output, and clients keep working across the failover.
func TestLeaderKilledMidJob(t *testing.T) {
	files, inputs := books(t)
	d := deploy(t, 2)
	// The first master leads; the second stands by.
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		return d.client.Call(timeout(t, 5*time.Second), "Master.List", struct{}{}, &[]master.JobStatus{}) == nil
	}, "the first master to lead")
	d.masters = append(d.masters, d.startMaster())
	id := d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "32768")
	killed := false
	d.wait(id, func(st master.JobStatus) {
		if !killed && st.MapsDone > 0 {
			d.masters[0].kill()
			killed = true
			at := time.Now()
			brokertest.WaitFor(t, time.Minute, func() bool {
				return d.client.Call(timeout(t, 2*time.Second), "Master.Status", master.JobArgs{ID: id}, &master.JobStatus{}) == nil
			}, "the standby to answer")
			t.Logf("the standby answered %v after the leader was killed (--leader-ttl 1s)", time.Since(at).Round(10*time.Millisecond))
		}
	})
	if !killed {
		t.Log("the job ended before the leader was killed")
	}
	d.checkOutput(id, "wordcount", inputs, 3)
}

// brokerReturnBound is how soon after a restarted broker answers again a
// job must commit its next task: work resumes within seconds, not a pull
// expiry or a lease later.
const brokerReturnBound = 2 * time.Second

// TestBrokerRestartedMidJob: the broker stops and starts again mid-job
// (file storage); every process reconnects, the job commits again soon
// after the broker answers, and no task, commit or output is lost.
func TestBrokerRestartedMidJob(t *testing.T) {
	files, inputs := books(t)
	d := deploy(t, 2)
	id := d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "32768")
	var back time.Time // when the broker answered again
	d.wait(id, func(st master.JobStatus) {
		if back.IsZero() && st.MapsDone > 0 {
			d.broker.stop()
			d.broker.restart()
			back = time.Now()
		}
	})
	if back.IsZero() {
		t.Fatal("the job ended before the broker restarted")
	}
	resumed := d.firstCommitAfter(id, back).Sub(back)
	t.Logf("the first commit came %v after the broker answered again", resumed.Round(time.Millisecond))
	if resumed > brokerReturnBound {
		t.Errorf("the first commit came %v after the broker answered again, want at most %v", resumed, brokerReturnBound)
	}
	d.checkOutput(id, "wordcount", inputs, 3)
}

// bind is mr.Bind on the deployment's connection, asked again while it
// fails: on a cluster, a node just started again may answer that
// JetStream is unavailable while its streams elect their leaders.
func (d *deployment) bind(ctx context.Context) *mr.Store {
	d.t.Helper()
	var store *mr.Store
	var last lastError
	brokertest.WaitFor(d.t, 30*time.Second, func() bool {
		store, last.err = mr.Bind(ctx, d.nc)
		return last.err == nil
	}, "mr.Bind to succeed (last: %v)", &last)
	return store
}

// firstCommitAfter is when the job's first commit after t was stored, as
// the server stamped it.
func (d *deployment) firstCommitAfter(job string, t time.Time) time.Time {
	d.t.Helper()
	ctx := timeout(d.t, 30*time.Second)
	store := d.bind(ctx)
	keys, err := store.Commits.ListKeysFiltered(ctx, job+".>")
	if err != nil {
		d.t.Fatal(err)
	}
	var first time.Time
	for key := range keys.Keys() {
		entry, err := store.Commits.Get(ctx, key)
		if err != nil {
			d.t.Fatal(err)
		}
		if at := entry.Created(); at.After(t) && (first.IsZero() || at.Before(first)) {
			first = at
		}
	}
	if first.IsZero() {
		d.t.Fatalf("job %s committed nothing after %v", job, t)
	}
	return first
}
