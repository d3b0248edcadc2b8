package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// liveWorkers are the IDs in the worker registry.
func (d *deployment) liveWorkers() []string {
	d.t.Helper()
	ctx := timeout(d.t, 30*time.Second)
	store := d.bind(ctx)
	workers, _, err := mr.ListWorkers(ctx, store.Registry)
	if err != nil {
		d.t.Fatal(err)
	}
	ids := make([]string, 0, len(workers))
	for _, w := range workers {
		ids = append(ids, w.ID)
	}
	return ids
}

// TestWorkerRegistry: `drover workers` lists the live workers with what
// they can run; one killed with SIGKILL leaves the registry within
// mr.WorkerTTL of its last report, and one stopped with SIGTERM at once.
func TestWorkerRegistry(t *testing.T) {
	d := deploy(t, 0)
	d.waitLeading()
	d.workers = append(d.workers, d.startWorkerWith(0, "--allow-exec", "--slots", "2"), d.startWorker(1), d.startWorker(2))
	brokertest.WaitFor(t, 30*time.Second, func() bool { return len(d.liveWorkers()) == 3 }, "three workers in the registry")

	out, err := exec.Command(filepath.Join(bin, "drover"), "workers", "--nats", d.url).CombinedOutput()
	if err != nil {
		t.Fatalf("drover workers: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "WORKER") {
		t.Fatalf("drover workers printed\n%s\nwant a header and three workers", out)
	}
	for i, want := range []string{"w0 ", "w1 ", "w2 "} {
		line := lines[i+1]
		if !strings.HasPrefix(line, want) || !strings.Contains(line, "streaming") || !strings.Contains(line, "wordcount") {
			t.Errorf("drover workers line %q, want worker %s with its apps", line, want)
		}
	}
	if !strings.Contains(lines[1], "0/2") || !strings.Contains(lines[1], " yes ") || !strings.Contains(lines[2], " no ") {
		t.Errorf("drover workers printed\n%s\nwant w0 with 2 slots and exec, w1 without", out)
	}

	// The killed worker's last report may be up to WorkerReportEvery old.
	d.workers[1].kill()
	killed := time.Now()
	brokertest.WaitFor(t, 30*time.Second, func() bool { return !strings.Contains(strings.Join(d.liveWorkers(), " "), "w1") }, "the killed worker to leave the registry")
	took := time.Since(killed)
	t.Logf("the killed worker left the registry %v after its kill", took.Round(time.Millisecond))
	if bound := mr.WorkerTTL + mr.WorkerReportEvery; took > bound+time.Second {
		t.Errorf("the killed worker left the registry %v after its kill, want within about %v", took, bound)
	}
	d.workers[2].stop()
	if ids := d.liveWorkers(); len(ids) != 1 || ids[0] != "w0" {
		t.Errorf("registry after a kill and a stop = %q, want only w0", ids)
	}
}

// TestStreamingJobWaitsForExecWorker: a streaming job submitted while the
// only live worker was started without --allow-exec is held at once,
// `drover status` saying why, and no task of it fails; a master killed
// and started again holds it too, publishing none of its tasks; a worker
// started with --allow-exec then runs it to the sequential run's output.
func TestStreamingJobWaitsForExecWorker(t *testing.T) {
	d := deploy(t, 0)
	d.waitLeading()
	d.workers = append(d.workers, d.startWorker(0))
	brokertest.WaitFor(t, 30*time.Second, func() bool { return len(d.liveWorkers()) == 1 }, "the worker in the registry")
	input := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(input, []byte(heldInput), 0o644); err != nil {
		t.Fatal(err)
	}
	job := d.submit([]string{input}, "--app", "streaming", "--arg", shellMapper, "--arg", shellReducer, "-r", "1")
	st := d.status(job)
	want := "waiting for a worker started with --allow-exec: app streaming runs commands, and no live worker runs them"
	if st.State != master.JobWaiting || st.Waiting != want {
		t.Fatalf("status of a streaming job with no exec worker = %s, %q; want %s, %q", st.State, st.Waiting, master.JobWaiting, want)
	}
	out, err := exec.Command(filepath.Join(bin, "drover"), "status", job, "--nats", d.url).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "waiting") || !strings.Contains(string(out), want) {
		t.Errorf("drover status %s: %v\n%s\nwant state waiting and why", job, err, out)
	}

	// A held job cancelled ends so, and never runs.
	other := d.submit([]string{input}, "--app", "streaming", "--arg", shellMapper, "--arg", shellReducer, "-r", "1")
	if out, err := exec.Command(filepath.Join(bin, "drover"), "cancel", other, "--nats", d.url).CombinedOutput(); err != nil {
		t.Fatalf("drover cancel %s: %v\n%s", other, err, out)
	}
	if st := d.status(other); st.State != master.JobCancelled || st.Waiting != "" {
		t.Errorf("status of a held job cancelled = %s, %q; want %s", st.State, st.Waiting, master.JobCancelled)
	}

	d.masters[0].kill()
	d.masters = append(d.masters, d.startMaster())
	d.waitLeading()
	brokertest.WaitFor(t, 30*time.Second, func() bool { return d.status(job).Waiting == want }, "the new master to hold %s", job)
	if n := d.taskMessages(job); n != 0 {
		t.Errorf("the new master published %d tasks of the held job %s, want none", n, job)
	}

	d.workers = append(d.workers, d.startWorkerWith(1, "--allow-exec"))
	d.wait(job, nil)
	if st := d.status(other); st.State != master.JobCancelled || len(d.events(other, mr.EventStarted)) > 0 {
		t.Errorf("the cancelled held job: %s, %d attempts started; want cancelled, none", st.State, len(d.events(other, mr.EventStarted)))
	}
	if failed := d.events(job, mr.EventFailed); len(failed) > 0 {
		t.Errorf("job %s had %d failed attempts, want none: %+v", job, len(failed), failed)
	}
	in := mr.NamedInput{Name: "in.txt", Data: []byte(heldInput)}
	d.checkOutputIs(job, sequentialStreaming(t, shellMapper, shellReducer, []mr.NamedInput{in}, 1))
}

// taskMessages counts the task messages of job in the task stream.
func (d *deployment) taskMessages(job string) uint64 {
	d.t.Helper()
	js, _ := jetstream.New(d.nc)
	stream, err := js.Stream(timeout(d.t, 10*time.Second), mr.StreamTasks)
	if err != nil {
		d.t.Fatal(err)
	}
	info, err := stream.Info(timeout(d.t, 10*time.Second), jetstream.WithSubjectFilter(mr.JobTaskSubjects(job)))
	if err != nil {
		d.t.Fatal(err)
	}
	var n uint64
	for _, count := range info.State.Subjects {
		n += count
	}
	return n
}
