// Command worker runs Drover MapReduce tasks pulled from a NATS server
// until SIGINT or SIGTERM, judging deadlines by the master's clock.
//
//	worker [--nats URL] [--slots 1] [--id NAME] [--allow-exec] [--shared-root DIR]...
//	       [--sort-buffer 64MiB] [--temp-dir DIR] [--metrics ADDR]
//
// Only a worker started with --allow-exec runs the commands of streaming
// jobs; any other hands their tasks back for a worker that does, and
// fails one, saying why, once it has come back ten times. The worker
// announces itself in the worker registry (drover workers) while it runs. Only files
// under a --shared-root directory are read as the inputs of jobs
// submitted with --shared; any other path fails its task. A map task
// holds --sort-buffer bytes of its output in memory and spills sorted runs
// past it to --temp-dir, as a reduce keeps its copies of the map outputs.
package main

import (
	"context"
	"io"
	"os"
	"time"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/timesvc"
	"github.com/drover-dev/drover/worker"
)

func main() { cli.Main("worker", run, "worker: ") }

const description = `Runs Drover MapReduce tasks pulled from the task queue, judging deadlines by
the master's clock. Only a worker started with --allow-exec runs the
commands of streaming jobs, and only files under a --shared-root directory
are read as the inputs of jobs submitted with --shared.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewBinary("worker", "[flags]", description, stderr)
	slots := fs.Int("slots", worker.DefaultSlots, "tasks to run at once")
	id := fs.String("id", "", "the worker's name (default host-pid-random)")
	allowExec := fs.Bool("allow-exec", false, "run the commands of streaming jobs")
	slow := fs.Float64("slow-factor", 1, "take this many times as long over each task (a straggler, for tests)")
	var sharedRoots []string
	fs.Func("shared-root", "read the inputs of jobs submitted with --shared only from files under `DIR` (repeatable; default: none)", func(dir string) error {
		sharedRoots = append(sharedRoots, dir)
		return nil
	})
	sortBuffer := cli.Size(mr.DefaultSortBuffer)
	fs.Var(&sortBuffer, "sort-buffer", "hold `SIZE` bytes of a map task's output in memory before spilling sorted runs to --temp-dir (as Hadoop's io.sort.mb)")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (host:port; default: none)")
	tempDir := fs.String("temp-dir", "", "the directory for a task's spills and its copies of inputs and map outputs, removed when the task ends (default $TMPDIR or /tmp)")
	log, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if *slots < 1 {
		return cli.Usagef("--slots %d: want at least 1", *slots)
	}
	if *slow < 1 {
		return cli.Usagef("--slow-factor %v: want 1 or more", *slow)
	}
	if *id != "" && !mr.ValidWorkerID(*id) {
		return cli.Usagef("--id %.80q: want at most %d ASCII letters, digits, '-' and '_'", *id, mr.MaxWorkerIDLen)
	}
	if sortBuffer < mr.MinSortBuffer || sortBuffer > mr.MaxSortBuffer {
		return cli.Usagef("--sort-buffer %v: want %v to %v", sortBuffer, cli.Size(mr.MinSortBuffer), cli.Size(mr.MaxSortBuffer))
	}
	if *tempDir != "" {
		if st, err := os.Stat(*tempDir); err != nil || !st.IsDir() {
			return cli.Usagef("--temp-dir %s: want an existing directory", *tempDir)
		}
	}
	for _, dir := range sharedRoots {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return cli.Usagef("--shared-root %s: want an existing directory", dir)
		}
	}
	reg := apps.Registry(*allowExec)
	promReg := metrics.NewRegistry()
	counts, err := metrics.NewWorker(promReg)
	if err != nil {
		return err
	}
	stopMetrics, err := metrics.Start(ctx, *metricsAddr, promReg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	nc, err := fs.NATS.ConnectWait(ctx, "drover worker", log)
	if err != nil {
		return err
	}
	defer nc.Drain()
	// The master owns the task queue and its lease: bind to what it made,
	// waiting for it if it has not run yet.
	store, err := mr.Await(ctx, nc, 0, func(err error) { log.Info("worker: waiting for a master to set up the task queue", "error", err) })
	if err != nil {
		return err
	}

	// Deadlines are the master's: keep its time.
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		return err
	}
	defer client.Close()
	clock, err := timesvc.NewClock(client, timesvc.ClockConfig{Logger: log})
	if err != nil {
		return err
	}
	syncCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := clock.Sync(syncCtx); err != nil {
		log.Warn("worker: no master clock yet; using the local one until it answers", "error", err)
	}
	cancel()
	if err := metrics.NewClock(promReg, clock); err != nil {
		return err
	}
	clockDone := make(chan struct{})
	go func() {
		clock.Run(ctx)
		close(clockDone)
	}()
	defer func() { <-clockDone }() // the clock stops using the client before it closes

	w, err := worker.New(store, worker.Config{ID: *id, Slots: *slots, Apps: reg, AllowExec: *allowExec, Clock: clock.Now, Logger: log, SlowFactor: *slow, SharedRoots: sharedRoots,
		SortBuffer: int64(sortBuffer), TempDir: *tempDir, Version: cli.Version("worker"), Metrics: counts})
	if err != nil {
		return err
	}
	log.Info("worker ready", "id", w.ID(), "slots", *slots)
	return w.Run(ctx)
}
