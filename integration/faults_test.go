package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// The lecture's word count as shell tools, for streaming jobs: a word is
// a run of ASCII letters. The reducer relies on its input being sorted.
const (
	shellMapper  = `LC_ALL=C tr -cs 'A-Za-z' '\n' | grep -v '^$' | sed 's/$/	1/'`
	shellReducer = `LC_ALL=C awk -F'\t' '$1 != prev { if (NR > 1) print prev, n; prev = $1; n = 0 } { n += $2 } END { if (NR > 0) print prev, n }'`
)

// held is command run once the file release exists, when the shell test
// cond holds: a task that the test holds back while it does its part. It
// adds nothing to the command's output.
func held(cond, release, command string) string {
	return fmt.Sprintf("if %s; then while [ ! -e '%s' ]; do sleep 0.05; done; fi; %s", cond, release, command)
}

// startWorkerWith is startWorker with more flags, which win over its own.
func (d *deployment) startWorkerWith(i int, flags ...string) *process {
	return start(d.t, "worker", append([]string{"--nats", d.url, "--slots", "1", "--id", fmt.Sprint("w", i), "--log-level", "warn"}, flags...)...)
}

// waitLeading waits until a master answers on the control API.
func (d *deployment) waitLeading() {
	d.t.Helper()
	brokertest.WaitFor(d.t, 30*time.Second, func() bool {
		return d.client.Call(timeout(d.t, 5*time.Second), "Master.List", struct{}{}, &[]master.JobStatus{}) == nil
	}, "a master to lead")
}

// droverStatus runs `drover status` on the job and returns what it says.
func (d *deployment) droverStatus(id string) string {
	d.t.Helper()
	out, err := exec.CommandContext(timeout(d.t, time.Minute), filepath.Join(bin, "drover"), "status", id, "--nats", d.url).CombinedOutput()
	if err != nil {
		d.t.Fatalf("drover status: %v: %s", err, out)
	}
	return string(out)
}

// starts counts the job's started attempts of each task, by "map/3".
func (d *deployment) starts(id string) map[string]int {
	d.t.Helper()
	n := map[string]int{}
	for _, ev := range d.events(id, mr.EventStarted) {
		n[fmt.Sprintf("%s/%d", ev.Phase, ev.Index)]++
	}
	return n
}

// notesWith returns the job's notes that contain s.
func notesWith(st master.JobStatus, s string) []string {
	var notes []string
	for _, n := range st.Notes {
		if strings.Contains(n, s) {
			notes = append(notes, n)
		}
	}
	return notes
}

// sequentialStreaming runs streaming with mapper and reducer in this
// process, each input whole in one map and with no fault: the reference
// of a streaming job's output. mr.Sequential cannot run streaming, which
// maps whole splits and reduces whole partitions.
func sequentialStreaming(t *testing.T, mapper, reducer string, inputs []mr.NamedInput, r int) [][]byte {
	t.Helper()
	var reg mr.Registry
	apps.RegisterStreaming(&reg, true)
	app, err := reg.New("streaming", []string{mapper, reducer})
	if err != nil {
		t.Fatal(err)
	}
	ctx := timeout(t, time.Minute)
	runs := make([][]io.Reader, r)
	for _, in := range inputs {
		size := int64(len(in.Data))
		mctx := mr.WithTaskInfo(ctx, mr.TaskInfo{Phase: mr.PhaseMap, Input: in.Name})
		parts, _, err := mr.RunMap(mctx, app, mr.ReadSplit(bytes.NewReader(in.Data), size, mr.Split{End: size}, in.Name), r, nil)
		if err != nil {
			t.Fatal(err)
		}
		for p := range parts {
			runs[p] = append(runs[p], bytes.NewReader(parts[p]))
		}
	}
	out := make([][]byte, r)
	for p := range runs {
		var buf bytes.Buffer
		rctx := mr.WithTaskInfo(ctx, mr.TaskInfo{Phase: mr.PhaseReduce, Index: p, Partition: p})
		if _, err := mr.RunReduce(rctx, app, runs[p], &buf, nil); err != nil {
			t.Fatal(err)
		}
		out[p] = buf.Bytes()
	}
	return out
}

// TestLeaderKilledMidReduce: two masters; the leader is killed with
// SIGKILL while the job reduces, with reduces committed and one held
// running across the failover; the standby takes over, `drover status`
// keeps answering, and the output is byte-identical to the sequential run.
func TestLeaderKilledMidReduce(t *testing.T) {
	files, inputs := books(t)
	release := filepath.Join(t.TempDir(), "release")
	d := deploy(t, 0)
	for i := range 2 {
		d.workers = append(d.workers, d.startWorkerWith(i, "--allow-exec"))
	}
	d.waitLeading() // the first master leads; the second stands by
	d.masters = append(d.masters, d.startMaster())
	// Partition 0's reducer waits: the job cannot end before the kill.
	reducer := held(`[ "$MR_PARTITION" = 0 ]`, release, shellReducer)
	id := d.submit(files, "--app", "streaming", "--arg", shellMapper, "--arg", reducer, "-r", "6", "--split-size", "131072")
	brokertest.WaitFor(t, 3*time.Minute, func() bool {
		st := d.status(id)
		if st.State.Ended() {
			t.Fatalf("job %s ended %s before the kill: %s", id, st.State, st.Error)
		}
		return st.State == master.JobReducing && st.ReduceDone > 0
	}, "job %s to commit a reduce", id)
	d.masters[0].kill()

	// Only the standby is left to answer, once it leads. The held reduce
	// keeps the job from ending meanwhile.
	out := d.droverStatus(id)
	if !strings.Contains(out, id) || !regexp.MustCompile(`(?m)^state +reducing$`).MatchString(out) {
		t.Fatalf("drover status after the failover:\n%s\nwant job %s still reducing", out, id)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d.wait(id, nil)
	d.checkOutputIs(id, sequentialStreaming(t, shellMapper, shellReducer, inputs, 6))
	if out := d.droverStatus(id); !regexp.MustCompile(`(?m)^state +done$`).MatchString(out) || !regexp.MustCompile(`(?m)^reduces +6/6$`).MatchString(out) {
		t.Errorf("drover status at the end:\n%s\nwant the job done", out)
	}
}

// waitTaken waits until a task of the workers' consumer is taken: by
// slow, the only worker started, which a straggler's test lets take the
// first map alone before the others start.
func (d *deployment) waitTaken(slow *process) {
	d.t.Helper()
	js, err := jetstream.New(d.nc)
	if err != nil {
		d.t.Fatal(err)
	}
	brokertest.WaitFor(d.t, 30*time.Second, func() bool {
		cons, err := js.Consumer(timeout(d.t, 5*time.Second), mr.StreamTasks, mr.ConsumerWorkers)
		if err != nil {
			return false
		}
		info, err := cons.Info(timeout(d.t, 5*time.Second))
		return err == nil && info.NumAckPending > 0
	}, "the slow worker to take a map (output: %s)", slow)
}

// TestStragglerBackedUp: three workers, one a thousand times slower than
// the others, run a job with speculation; the straggler's map gets a
// backup attempt, which wins, and the output is byte-identical to the
// sequential run. A thousand times, not ten: a map here takes some 20 ms,
// and ten times that may end before the master, which judges stragglers
// on its tick and from progress reports a quarter second apart, has
// looked at it at all.
func TestStragglerBackedUp(t *testing.T) {
	files, inputs := books(t)
	d := deploy(t, 0)
	slow := d.startWorkerWith(0, "--slow-factor", "1000")
	id := d.submit(files, "--app", "wordcount", "-r", "2", "--speculation", "on")
	// The straggler takes the first map alone; the others come after.
	d.waitTaken(slow)
	d.workers = append(d.workers, slow, d.startWorker(1), d.startWorker(2))
	st := d.wait(id, nil)
	d.checkOutput(id, "wordcount", inputs, 2)
	if st.Backups.Launched < 1 || st.Backups.Won < 1 {
		t.Errorf("backups %+v, want at least one launched and won", st.Backups)
	}
}

// TestMapOutputDeleted: a committed map's output is deleted before any
// reduce reads it (one map is held back meanwhile); the reduces report it
// lost, only that map runs again, the status says why, and the output is
// byte-identical to the sequential run.
func TestMapOutputDeleted(t *testing.T) {
	files, inputs := books(t)
	files, inputs = files[:2], inputs[:2]
	dir := t.TempDir()
	release := filepath.Join(dir, "release")
	hold := mr.NamedInput{Name: "hold.txt", Data: []byte("held back until a map output is gone\n")}
	if err := os.WriteFile(filepath.Join(dir, hold.Name), hold.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	d := deploy(t, 0)
	for i := range 3 {
		d.workers = append(d.workers, d.startWorkerWith(i, "--allow-exec"))
	}
	// hold.txt comes first: its one split is map 0.
	mapper := held(`[ "$MR_INPUT" = hold.txt ]`, release, shellMapper)
	id := d.submit(append([]string{filepath.Join(dir, hold.Name)}, files...), "--app", "streaming", "--arg", mapper, "--arg", shellReducer, "-r", "3", "--split-size", "131072")
	var st master.JobStatus
	brokertest.WaitFor(t, 3*time.Minute, func() bool {
		st = d.status(id)
		return st.MapsDone == st.Maps-1
	}, "every map of job %s but the held one to commit", id)

	const lost = 1
	ctx := timeout(t, 30*time.Second)
	store := d.bind(ctx)
	if _, err := store.Commits.Get(ctx, mr.CommitKey(id, mr.PhaseMap, 0)); err == nil {
		t.Fatal("map 0, the held one, committed")
	}
	entry, err := store.Commits.Get(ctx, mr.CommitKey(id, mr.PhaseMap, lost))
	if err != nil {
		t.Fatal(err)
	}
	var commit mr.Commit
	if err := json.Unmarshal(entry.Value(), &commit); err != nil {
		t.Fatal(err)
	}
	deleted := 0
	for _, name := range commit.Objects() {
		if err := store.Data.Delete(ctx, name); err != nil {
			t.Fatalf("delete %s: %v", name, err)
		}
		deleted++
	}
	if deleted == 0 {
		t.Fatalf("map %d wrote no output to delete", lost)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}

	st = d.wait(id, nil)
	d.checkOutputIs(id, sequentialStreaming(t, shellMapper, shellReducer, append([]mr.NamedInput{hold}, inputs...), 3))
	starts := d.starts(id)
	for n := range st.Maps {
		want := 1
		if n == lost {
			want = 2
		}
		if got := starts[fmt.Sprintf("map/%d", n)]; got != want {
			t.Errorf("map %d started %d times, want %d", n, got, want)
		}
	}
	if notes := notesWith(st, "ran again"); len(notes) != 1 || !strings.Contains(notes[0], fmt.Sprintf("map %d ran again", lost)) || !strings.Contains(notes[0], "could not read its output") {
		t.Errorf("status notes %q, want one saying map %d ran again because its output could not be read", st.Notes, lost)
	}
}

// TestPoisonedRecord: sum over logs, one of which has a malformed line.
// Without skipping bad records, the job fails naming the record, as the
// sequential run does; with it, the job ends done, says which record it
// skipped, and its output is the sequential sum without that line.
func TestPoisonedRecord(t *testing.T) {
	dir := t.TempDir()
	var files []string
	var clean []mr.NamedInput
	for i, name := range []string{"a.log", "b.log", "c.log"} {
		var b strings.Builder
		for j := range 500 {
			fmt.Fprintf(&b, "host%d %d\n", (i*31+j*7)%13, (i+1)*j%977)
		}
		clean = append(clean, mr.NamedInput{Name: name, Data: []byte(b.String())})
		files = append(files, filepath.Join(dir, name))
	}
	inputs := slices.Clone(clean)
	text := string(clean[1].Data)
	offset := len(text) / 2
	offset += strings.IndexByte(text[offset:], '\n') + 1
	inputs[1].Data = []byte(text[:offset] + "host7 12kB\n" + text[offset:])
	for i, in := range inputs {
		if err := os.WriteFile(files[i], in.Data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	record := fmt.Sprintf("b.log byte %d", offset)
	_, seqErr := mr.Sequential(timeout(t, time.Minute), apps.Sum{}, inputs, 2)
	if seqErr == nil || !strings.Contains(seqErr.Error(), "record at "+record) {
		t.Fatalf("sequential sum: %v, want an error naming the record at %s", seqErr, record)
	}
	d := deploy(t, 2)

	st := d.ended(d.submit(files, "--app", "sum", "-r", "2"), nil)
	if st.State != master.JobFailed || !strings.Contains(st.Error, seqErr.Error()) {
		t.Errorf("job without skipping ended %s %q, want failed with %q", st.State, st.Error, seqErr)
	}

	id := d.submit(files, "--app", "sum", "-r", "2", "--skip-bad-records")
	st = d.wait(id, nil)
	d.checkOutput(id, "sum", clean, 2)
	if notes := notesWith(st, "skipped"); len(notes) != 1 || !strings.Contains(notes[0], "skipped the bad record at "+record) {
		t.Errorf("status notes %q, want one naming the skipped record at %s", st.Notes, record)
	}
}

// TestStreamingOnlyOnExecWorkers: one worker without --allow-exec among
// two with it. Streaming jobs run on the two alone, none of their tasks
// fails, and the other worker takes the word counts.
func TestStreamingOnlyOnExecWorkers(t *testing.T) {
	files, inputs := books(t)
	d := deploy(t, 0)
	d.workers = append(d.workers, d.startWorker(0))
	for i := 1; i <= 2; i++ {
		d.workers = append(d.workers, d.startWorkerWith(i, "--allow-exec"))
	}
	d.waitPulling(3)
	var streaming, counts []string
	for range 3 {
		streaming = append(streaming, d.submit(files, "--app", "streaming", "--arg", shellMapper, "--arg", shellReducer, "-r", "3", "--split-size", "131072"))
		counts = append(counts, d.submit(files, "--app", "wordcount", "-r", "3", "--split-size", "131072"))
	}
	want := sequentialStreaming(t, shellMapper, shellReducer, inputs, 3)
	plainRan := false
	for _, id := range streaming {
		d.wait(id, nil)
		d.checkOutputIs(id, want)
		if failed := d.events(id, mr.EventFailed); len(failed) > 0 {
			t.Errorf("job %s: %d attempts failed, the first on %s: %s", id, len(failed), failed[0].Worker, failed[0].Error)
		}
		for _, ev := range d.events(id, mr.EventStarted) {
			if ev.Worker == "w0" {
				t.Errorf("job %s: %s/%d started on w0, which may not run commands", id, ev.Phase, ev.Index)
			}
		}
	}
	for _, id := range counts {
		d.wait(id, nil)
		d.checkOutput(id, "wordcount", inputs, 3)
		for _, ev := range d.events(id, mr.EventStarted) {
			plainRan = plainRan || ev.Worker == "w0"
		}
	}
	if !plainRan {
		t.Error("w0 ran no task of the word counts")
	}
}
