package master_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

var texts = map[string]string{
	"a.txt":    "the cat sat\non the mat\nthe end of a\n",
	"b.txt":    "the dog\nate the cat\nand that was b\n",
	"hold.txt": "the end\n",
}

// upload stores the named texts, repeated to a few times the smallest
// split size, as a job's inputs, cut into pieces of that size so that
// each makes several map tasks.
func (c *cluster) upload(t *testing.T, names ...string) ([]mr.Input, []mr.NamedInput) {
	t.Helper()
	dir := t.TempDir()
	var inputs []mr.Input
	var named []mr.NamedInput
	for _, name := range names {
		text := strings.Repeat(texts[name], 3*mr.MinSplitSize/len(texts[name])+1)
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(text), 0o644)
		in, err := mr.Upload(c.ctx, c.store, path, mr.MinSplitSize)
		if err != nil {
			t.Fatal(err)
		}
		inputs = append(inputs, in...)
		named = append(named, mr.NamedInput{Name: name, Data: []byte(text)})
	}
	return inputs, named
}

// run submits spec and waits for it to be done with the output a
// sequential word count of inputs gives.
func (c *cluster) run(t *testing.T, spec mr.JobSpec, inputs []mr.NamedInput) master.JobStatus {
	t.Helper()
	id := c.submit(t, spec)
	st := c.wait(t, id)
	if st.State != master.JobDone {
		t.Fatalf("job %s ended %s: %s", id, st.State, st.Error)
	}
	want, _ := mr.Sequential(c.ctx, apps.WordCount{}, inputs, spec.R)
	for r, name := range st.Outputs {
		if got, err := c.store.Data.GetBytes(c.ctx, name); err != nil || !bytes.Equal(got, want[r]) {
			t.Errorf("job %s partition %d = %q (%v), want %q", id, r, got, err, want[r])
		}
	}
	return st
}

// mapCommits returns the commit records of a job's map tasks.
func (c *cluster) mapCommits(t *testing.T, st master.JobStatus) []mr.Commit {
	t.Helper()
	commits := make([]mr.Commit, st.Maps)
	for n := range st.Maps {
		entry, err := c.store.Commits.Get(c.ctx, mr.CommitKey(st.ID, mr.PhaseMap, n))
		if err != nil {
			t.Fatalf("map %d of %s: %v", n, st.ID, err)
		}
		json.Unmarshal(entry.Value(), &commits[n])
	}
	return commits
}

// TestReuseAcrossJobs: a second job over the same inputs with the same
// app, arguments and R runs no map task; one with --no-reuse or another R
// runs them all; a map output whose objects are gone is not reused.
func TestReuseAcrossJobs(t *testing.T) {
	c := start(t, 2)
	inputs, named := c.upload(t, "a.txt", "b.txt")
	spec := func(r int, noReuse bool) mr.JobSpec {
		return mr.JobSpec{App: "wordcount", Inputs: inputs, R: r, NoReuse: noReuse}
	}

	first := c.run(t, spec(2, false), named)
	if first.Maps < 4 || first.MapsReused != 0 {
		t.Fatalf("first job: %d maps, %d reused; want several, none reused", first.Maps, first.MapsReused)
	}
	second := c.run(t, spec(2, false), named)
	if second.MapsReused != second.Maps {
		t.Errorf("second job reused %d of %d maps, want all", second.MapsReused, second.Maps)
	}
	if second.Counters != first.Counters {
		t.Errorf("second job's counters %+v, want the first's %+v", second.Counters, first.Counters)
	}
	for n, commit := range c.mapCommits(t, second) {
		if commit.Reused != first.ID || commit.Attempt != 0 {
			t.Errorf("map %d of the second job: reused %q, attempt %d; want %s's output, no attempt", n, commit.Reused, commit.Attempt, first.ID)
		}
	}

	if st := c.run(t, spec(2, true), named); st.MapsReused != 0 {
		t.Errorf("a job with NoReuse reused %d maps", st.MapsReused)
	}
	if st := c.run(t, spec(3, false), named); st.MapsReused != 0 {
		t.Errorf("a job with another R reused %d maps", st.MapsReused)
	}

	// Remove map 0's output as the index has it now: the next job runs
	// that map only.
	commit := c.mapCommits(t, first)[0]
	entry, err := c.store.Lineage.Get(c.ctx, commit.Lineage)
	if err != nil {
		t.Fatal(err)
	}
	var lineage mr.LineageEntry
	json.Unmarshal(entry.Value(), &lineage)
	if l := lineage.Lineage; l.App != "wordcount" || l.R != 2 || l.Digest != inputs[0].Digest || l.Key() != commit.Lineage {
		t.Errorf("map 0's lineage entry says %+v, want wordcount over %s with R 2, its key %s", l, inputs[0].Digest, commit.Lineage)
	}
	for _, name := range lineage.Outputs.Objects() {
		c.store.Data.Delete(c.ctx, name)
	}
	st := c.run(t, spec(2, false), named)
	if st.MapsReused != st.Maps-1 {
		t.Errorf("after map 0's output was removed, %d of %d maps were reused, want all but map 0", st.MapsReused, st.Maps)
	}
	if commit := c.mapCommits(t, st)[0]; commit.Reused != "" {
		t.Errorf("map 0 reused %s's removed output", commit.Reused)
	}
}

// TestCollection: map outputs unused for the retention period are
// removed, but not while a running job reads them; then a job over the
// same inputs runs its maps again, and every job's output stays readable.
func TestCollection(t *testing.T) {
	var ahead atomic.Int64 // how far the master's clock is ahead of ours
	clock := func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	app := holding{release: make(chan struct{})}
	c := startWith(t, 2, master.Config{Retention: time.Hour, Clock: clock}, app)
	ab, named := c.upload(t, "a.txt", "b.txt")
	hold, holdNamed := c.upload(t, "hold.txt")
	all, allNamed := append(slices.Clone(ab), hold...), append(slices.Clone(named), holdNamed...)
	day := 24 * time.Hour

	first := c.run(t, mr.JobSpec{App: "holding", Inputs: ab, R: 2, Timeout: day}, named)
	// A job that reuses every map of the first, and runs one more that
	// holds, is running when the first's outputs grow old.
	holding := c.submit(t, mr.JobSpec{App: "holding", Inputs: all, R: 2, Timeout: day})
	ahead.Store(int64(2 * time.Hour))
	col, err := c.master.Collect(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if col.Entries != 0 || col.Objects != 0 {
		t.Errorf("collected %+v while a running job reads every output, want nothing", col)
	}
	close(app.release)
	st := c.wait(t, holding)
	if st.State != master.JobDone || st.MapsReused != first.Maps {
		t.Fatalf("holding job ended %s (%s) with %d maps reused, want done with %d", st.State, st.Error, st.MapsReused, first.Maps)
	}

	// A leftover of an attempt that died, and one of a job still running.
	c.store.Data.PutBytes(c.ctx, mr.MapOutputObject(first.ID, 0, "9-deadbeef", 0), []byte("left over"))
	c.store.Data.PutBytes(c.ctx, mr.MapOutputObject("running-elsewhere", 0, "1-deadbeef", 0), []byte("in use"))
	ahead.Store(int64(4 * time.Hour))
	if col, err = c.master.Collect(c.ctx); err != nil {
		t.Fatal(err)
	}
	if col.Entries != st.Maps {
		t.Errorf("collected %d lineage entries, want one per map output (%d)", col.Entries, st.Maps)
	}
	objects, _ := c.store.Data.List(c.ctx)
	var maps []string
	for _, o := range objects {
		if _, ok := mr.MapOutputJob(o.Name); ok {
			maps = append(maps, o.Name)
		}
	}
	if want := mr.MapOutputObject("running-elsewhere", 0, "1-deadbeef", 0); len(maps) != 1 || maps[0] != want {
		t.Errorf("map outputs left: %q; want only %s, whose job the master does not know to have ended", maps, want)
	}

	// The outputs are still there; a new job runs its maps again.
	for _, job := range []master.JobStatus{first, st} {
		for _, name := range job.Outputs {
			if _, err := c.store.Data.GetInfo(c.ctx, name); err != nil {
				t.Errorf("output %s of %s: %v", name, job.ID, err)
			}
		}
	}
	again := c.run(t, mr.JobSpec{App: "holding", Inputs: all, R: 2, Timeout: day}, allNamed)
	if again.MapsReused != 0 {
		t.Errorf("a job after the collection reused %d maps, want none", again.MapsReused)
	}
	if _, err := c.store.Lineage.Get(c.ctx, c.mapCommits(t, again)[0].Lineage); err != nil {
		t.Errorf("the new job's map 0 is not in the index: %v", err)
	}
}
