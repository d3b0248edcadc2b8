package local_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/local"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// corpus writes files of texts, repeated, totalling at least size bytes.
func corpus(b *testing.B, size int64, files int) []string {
	b.Helper()
	texts, _ := filepath.Glob("../../examples/data/*.txt")
	var books [][]byte
	for _, t := range texts {
		data, err := os.ReadFile(t)
		if err != nil {
			b.Fatal(err)
		}
		books = append(books, data)
	}
	dir := b.TempDir()
	var paths []string
	for i := range files {
		path := filepath.Join(dir, fmt.Sprintf("corpus-%d.txt", i))
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		for n, k := int64(0), i; n < size/int64(files); k++ {
			m, _ := f.Write(books[k%len(books)])
			n += int64(m)
		}
		f.Close()
		paths = append(paths, path)
	}
	return paths
}

// sequentialCount is the baseline: one process, one pass, counting into a
// map, then the sorted `word count` lines.
func sequentialCount(paths []string, w io.Writer) error {
	counts := map[string]int{}
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			for _, word := range strings.FieldsFunc(sc.Text(), func(r rune) bool { return !unicode.IsLetter(r) }) {
				counts[word]++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return err
		}
	}
	bw := bufio.NewWriter(w)
	for _, word := range slices.Sorted(maps.Keys(counts)) {
		fmt.Fprintf(bw, "%s %d\n", word, counts[word])
	}
	return bw.Flush()
}

// runJob runs spec on a fresh local deployment with workers and returns
// its status.
func runJob(b *testing.B, spec mr.JobSpec, workers, slots int) master.JobStatus {
	return runJobOn(b, spec, local.Config{Workers: workers, Slots: slots})
}

func runJobOn(b testing.TB, spec mr.JobSpec, cfg local.Config) master.JobStatus {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, client := startCluster(b, ctx, cfg)
	return runJobIn(b, ctx, c, client, spec)
}

func startCluster(b testing.TB, ctx context.Context, cfg local.Config) (*local.Cluster, *rpcq.Client) {
	b.Helper()
	cfg.Apps = apps.Registry(false)
	cfg.SharedRoots = []string{os.TempDir()} // the benchmarks' inputs are read in place
	c, err := local.Start(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(c.Close)
	client, err := rpcq.NewClient(c.NC, rpcq.ClientConfig{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { client.Close() })
	return c, client
}

// runJobIn runs spec on c and returns its status once it is done and its
// outputs are read.
func runJobIn(b testing.TB, ctx context.Context, c *local.Cluster, client *rpcq.Client, spec mr.JobSpec) master.JobStatus {
	b.Helper()
	var reply master.SubmitReply
	if err := client.Call(ctx, "Master.Submit", master.SubmitArgs{Spec: spec}, &reply); err != nil {
		b.Fatal(err)
	}
	var st master.JobStatus
	for !st.State.Ended() {
		time.Sleep(20 * time.Millisecond) // polling a job's progress, as drover run does
		if err := client.Call(ctx, "Master.Status", master.JobArgs{ID: reply.ID}, &st); err != nil {
			b.Fatal(err)
		}
	}
	if st.State != master.JobDone {
		b.Fatalf("job %s: %s", st.State, st.Error)
	}
	for _, name := range st.Outputs { // what drover run then does: fetch the outputs
		if _, err := c.Store.Data.GetBytes(ctx, name); err != nil {
			b.Fatal(err)
		}
	}
	return st
}

func inputs(b *testing.B, paths []string) []mr.Input {
	var in []mr.Input
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		in = append(in, mr.Input{Name: filepath.Base(p), Path: p, Size: st.Size()})
	}
	return in
}

// BenchmarkWordCount256MB: a word count of 256 MB of text, by drover run's
// engine with two workers against one process counting sequentially.
// Run it with -benchtime 1x.
func BenchmarkWordCount256MB(b *testing.B) {
	paths := corpus(b, 256<<20, 8)
	b.Run("baseline-sequential", func(b *testing.B) {
		for b.Loop() {
			if err := sequentialCount(paths, io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("drover-2workers", func(b *testing.B) {
		for b.Loop() {
			runJob(b, mr.JobSpec{App: "wordcount", R: 4, Inputs: inputs(b, paths)}, 2, 1)
		}
	})
}

// BenchmarkEmptyTasks measures scheduling: map tasks with nothing to do,
// through the whole path (publish, pull, commit, the master seeing it).
// Each job runs on a deployment of its own, started and stopped with it.
// tasks/s is over all the jobs of the run, and cpu-µs/task the CPU time
// of the whole process (broker, master and workers) per task: the figure
// a busy machine disturbs least.
func BenchmarkEmptyTasks(b *testing.B) {
	empty := filepath.Join(b.TempDir(), "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	const tasks = 2000
	spec := mr.JobSpec{App: "wordcount", R: 1}
	for i := range tasks {
		spec.Inputs = append(spec.Inputs, mr.Input{Name: fmt.Sprint("e", i), Path: empty})
	}
	var took time.Duration
	cpu := processCPU(b)
	for b.Loop() {
		start := time.Now()
		runJob(b, spec, 2, 4)
		took += time.Since(start)
	}
	ran := float64(b.N * (tasks + 1))
	b.ReportMetric(ran/took.Seconds(), "tasks/s")
	b.ReportMetric(float64((processCPU(b)-cpu).Microseconds())/ran, "cpu-µs/task")
}

// processCPU is the CPU time, user and system, the process has taken.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEmptyTasksMetrics is BenchmarkEmptyTasks with and without the
// master's and the workers' Prometheus metrics, the two alternating in one
// run and one scrape at the end of each job with them: what counting
// costs the whole path.
func BenchmarkEmptyTasksMetrics(b *testing.B) {
	empty := filepath.Join(b.TempDir(), "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	const tasks = 2000
	spec := mr.JobSpec{App: "wordcount", R: 1}
	for i := range tasks {
		spec.Inputs = append(spec.Inputs, mr.Input{Name: fmt.Sprint("e", i), Path: empty})
	}
	var took [2]time.Duration
	for n := 0; b.Loop(); n++ {
		// Each job on a deployment of its own, closed after it; the two
		// take turns going first.
		for k := range 2 {
			on := (n+k)%2 == 1
			cfg := local.Config{Workers: 2, Slots: 4}
			reg := prometheus.NewRegistry()
			if on {
				cfg.Metrics = reg
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			start := time.Now()
			c, client := startCluster(b, ctx, cfg)
			runJobIn(b, ctx, c, client, spec)
			if on {
				if _, err := reg.Gather(); err != nil {
					b.Fatal(err)
				}
			}
			took[boolIndex(on)] += time.Since(start)
			client.Close()
			c.Close()
			cancel()
		}
	}
	b.ReportMetric(float64(b.N*(tasks+1))/took[0].Seconds(), "tasks/s-off")
	b.ReportMetric(float64(b.N*(tasks+1))/took[1].Seconds(), "tasks/s-on")
	b.ReportMetric(took[1].Seconds()/took[0].Seconds(), "on/off")
}

// BenchmarkStraggler: a word count on 3 workers, one of them 10 times
// slower than the others, with backup tasks and without, against the same
// job with no slow worker (with backup tasks on too: there should be
// none). Run it with -benchtime 1x.
func BenchmarkStraggler(b *testing.B) {
	paths := corpus(b, 96<<20, 6)
	spec := mr.JobSpec{App: "wordcount", R: 3, SplitSize: 4 << 20, Inputs: inputs(b, paths)}
	speculating := spec
	speculating.Speculation = true
	for _, run := range []struct {
		name string
		spec mr.JobSpec
		slow int
	}{
		{"baseline-noslow", spec, 0},
		{"noslow-speculation", speculating, 0}, // conservative: no backup at all
		{"slow-nospeculation", spec, 1},
		{"slow-speculation", speculating, 1},
	} {
		b.Run(run.name, func(b *testing.B) {
			for b.Loop() {
				st := runJobOn(b, run.spec, local.Config{Workers: 3, SlowWorkers: run.slow, SlowFactor: 10})
				b.ReportMetric(float64(st.Backups.Launched), "backups")
			}
		})
	}
}

// BenchmarkReuse: the same word count of 64 MB of uploaded text, run
// again on one deployment: every map output of the first run is reused.
// The baseline runs every map (--no-reuse). Run it with -benchtime 1x.
func BenchmarkReuse(b *testing.B) {
	paths := corpus(b, 64<<20, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, client := startCluster(b, ctx, local.Config{Workers: 2})
	spec := mr.JobSpec{App: "wordcount", R: 4}
	for _, p := range paths {
		in, err := mr.Upload(ctx, c.Store, p, 8<<20)
		if err != nil {
			b.Fatal(err)
		}
		spec.Inputs = append(spec.Inputs, in...)
	}
	fresh := spec
	fresh.NoReuse = true
	for _, run := range []struct {
		name string
		spec mr.JobSpec
	}{{"baseline-noreuse", fresh}, {"reuse", spec}} {
		b.Run(run.name, func(b *testing.B) {
			for b.Loop() {
				st := runJobIn(b, ctx, c, client, run.spec)
				b.ReportMetric(float64(st.MapsReused)/float64(st.Maps), "reused")
			}
		})
	}
}

// BenchmarkWideJob: a word count of 10,000 maps and 1,000 reduces, the
// most map outputs a job may have (mr.MaxMapOutputs), on two workers of
// four slots: every reduce reads the commit of every map. Each split
// holds one word, so one reduce reads 10,000 objects and the others
// none. Run it with -benchtime 1x.
func BenchmarkWideJob(b *testing.B) {
	const maps, r = 10_000, 1_000
	path := filepath.Join(b.TempDir(), "x.txt")
	line := append(bytes.Repeat([]byte("x "), 511), '\n') // one split each
	if err := os.WriteFile(path, bytes.Repeat(line, maps), 0o644); err != nil {
		b.Fatal(err)
	}
	spec := mr.JobSpec{App: "wordcount", R: r, SplitSize: int64(len(line)),
		Inputs: []mr.Input{{Name: "x.txt", Path: path, Size: int64(maps * len(line))}}}
	for b.Loop() {
		st := runJob(b, spec, 2, 4)
		if st.Maps*st.Reduces < maps*r*99/100 {
			b.Fatalf("%d maps × %d reduces, want about %d × %d", st.Maps, st.Reduces, maps, r)
		}
	}
}

// BenchmarkCluster: the empty tasks and the 256 MB word count on a
// three-node cluster with every stream and bucket replicated three ways
// (R3), against the same on one embedded node (R1), in one run. The
// cluster is brokertest's: each node, and every connection to it, goes
// through an in-process proxy. Run it with -benchtime 1x.
func BenchmarkCluster(b *testing.B) {
	empty := filepath.Join(b.TempDir(), "empty.txt")
	os.WriteFile(empty, nil, 0o644)
	emptySpec := mr.JobSpec{App: "wordcount", R: 1}
	for i := range 2000 {
		emptySpec.Inputs = append(emptySpec.Inputs, mr.Input{Name: fmt.Sprint("e", i), Path: empty})
	}
	paths := corpus(b, 256<<20, 8)
	countSpec := mr.JobSpec{App: "wordcount", R: 4, Inputs: inputs(b, paths)}
	on := func(b *testing.B, replicas int) local.Config {
		cfg := local.Config{Workers: 2, Slots: 4}
		if replicas > 1 {
			cfg.Conn, cfg.Replicas = brokertest.StartCluster(b, replicas).Connect(), replicas
		}
		return cfg
	}
	for _, r := range []struct {
		name     string
		replicas int
	}{{"baseline-R1", 1}, {"R3", 3}} {
		b.Run("EmptyTasks-"+r.name, func(b *testing.B) {
			cfg := on(b, r.replicas) // outside the timing: b.Loop starts it at its first call
			for b.Loop() {
				start := time.Now()
				runJobOn(b, emptySpec, cfg)
				b.ReportMetric(float64(len(emptySpec.Inputs)+1)/time.Since(start).Seconds(), "tasks/s")
			}
		})
		b.Run("WordCount256MB-"+r.name, func(b *testing.B) {
			cfg := on(b, r.replicas)
			for b.Loop() {
				runJobOn(b, countSpec, cfg)
			}
		})
	}
}

func boolIndex(on bool) int {
	if on {
		return 1
	}
	return 0
}
