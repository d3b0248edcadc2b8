package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/internal/local"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// maxLocalWorkers bounds drover run's --workers: each is a goroutine
// pool of its own in this process.
const maxLocalWorkers = 256

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("run", stderr, "--app APP -o DIR [flags] FILE...")
	var job jobFlags
	job.register(fs)
	out := fs.String("o", "", "directory to write the output files into; it must be empty or absent")
	force := fs.Bool("force", false, "write into a directory holding an earlier job's part-* files, replacing them")
	workers := fs.Int("workers", 2, "workers to run")
	allowExec := fs.Bool("allow-exec", false, "let the streaming app run its commands")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case job.app == "streaming" && !*allowExec:
		return usagef("the streaming app runs commands: add --allow-exec")
	case *out == "":
		return usagef("-o DIR is required")
	case len(files) == 0:
		return usagef("no input files")
	case *workers < 1 || *workers > maxLocalWorkers:
		return usagef("--workers %d: want 1 to %d", *workers, maxLocalWorkers)
	}
	reg := builtinApps(*allowExec)
	spec, err := job.spec()
	if err != nil {
		return err
	}
	stale, err := checkOutputDir(*out, *force)
	if err != nil {
		return err
	}
	var roots []string
	for _, f := range files {
		st, err := inputFile(f)
		if err != nil {
			return err
		}
		abs, _ := filepath.Abs(f)
		// Local workers share this file system: they read the files in
		// place, in these directories alone.
		spec.Inputs = append(spec.Inputs, mr.Input{Name: filepath.Base(f), Path: abs, Size: st.Size()})
		if dir := filepath.Dir(abs); !slices.Contains(roots, dir) {
			roots = append(roots, dir)
		}
	}
	if err := sampleSortCuts(&spec, files); err != nil {
		return err
	}
	if err := spec.Validate(reg); err != nil {
		return usagef("%v", err)
	}

	start := time.Now()
	cluster, err := local.Start(ctx, local.Config{Workers: *workers, Apps: reg, AllowExec: *allowExec, SharedRoots: roots})
	if err != nil {
		return err
	}
	defer cluster.Close()
	client, err := rpcq.NewClient(cluster.NC, rpcq.ClientConfig{})
	if err != nil {
		return err
	}
	defer client.Close()

	mc := &masterClient{nc: cluster.NC, client: client}
	id, err := mc.submit(ctx, spec)
	if err != nil {
		return err
	}
	st, err := follow(ctx, mc, id, stderr)
	if err != nil {
		return err
	}
	if err := writeOutputs(ctx, mc, st, *out, stale); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "job %s done in %v: %d map and %d reduce tasks, %d files in %s\n",
		st.ID, time.Since(start).Round(time.Millisecond), st.Maps, st.Reduces, len(st.Outputs), *out)
	fmt.Fprintf(stdout, "counters: %s\n", st.Counters)
	for _, note := range st.Notes { // the bad records skipped, the maps run again
		fmt.Fprintf(stdout, "note: %s\n", note)
	}
	return nil
}

// builtinApps is the registry of the apps drover knows; streaming's
// commands run only if allowExec.
func builtinApps(allowExec ...bool) *mr.Registry {
	return apps.Registry(len(allowExec) > 0 && allowExec[0])
}

// follow polls the job's status until it ends, showing progress on w: a
// bar redrawn in place on a terminal, a line per change otherwise. A job
// that ends other than done is an error saying why. A master that does
// not answer is waited for, saying so, for as long as ctx lasts: only the
// master's refusal ("no job X") ends the wait early.
func follow(ctx context.Context, m *masterClient, id string, w io.Writer) (master.JobStatus, error) {
	tty := isTerminal(w)
	last := ""
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var lost error // what the master's silence looks like, while it lasts
	for {
		st, err := m.status(ctx, id)
		var refused *masterRefusal
		switch {
		case err != nil && (ctx.Err() != nil || errors.As(err, &refused)):
			return st, err
		case err != nil:
			// A master failing over, a cluster electing leaders, a broker
			// restarting: the job outlives them, and so does the wait.
			if lost == nil {
				fmt.Fprintf(w, "%sdrover: the master does not answer (%v); still waiting for job %s\n", lineBreak(tty, last), err, id)
				last = ""
			}
			lost = err
			select {
			case <-ctx.Done():
				return st, ctx.Err()
			case <-time.After(followRetry):
			}
			continue
		case lost != nil:
			fmt.Fprintf(w, "%sdrover: the master answers again\n", lineBreak(tty, last))
			lost, last = nil, ""
		}
		line := progressLine(st)
		switch {
		case tty:
			fmt.Fprintf(w, "\r%s", line)
		case line != last:
			fmt.Fprintln(w, line)
		}
		last = line
		if st.State.Ended() {
			if tty {
				fmt.Fprintln(w)
			}
			if st.State != master.JobDone {
				return st, fmt.Errorf("job %s %s: %s", st.ID, st.State, st.Error)
			}
			return st, nil
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-tick.C:
		}
	}
}

// followRetry is how soon follow asks again after the master did not answer.
const followRetry = time.Second

// lineBreak ends a progress line drawn in place on a terminal, if there is one.
func lineBreak(tty bool, last string) string {
	if tty && last != "" {
		return "\n"
	}
	return ""
}

func progressLine(st master.JobStatus) string {
	total := st.Maps + st.Reduces
	done := st.MapsDone + st.ReduceDone
	const width = 30
	filled := width * done / max(total, 1)
	bar := ""
	for i := range width {
		if i < filled {
			bar += "#"
		} else {
			bar += "."
		}
	}
	state := string(st.State)
	if st.Waiting != "" { // it says what it waits for, "waiting for ..."
		state = st.Waiting
	}
	return fmt.Sprintf("[%s] map %d/%d  reduce %d/%d  %s", bar, st.MapsDone, st.Maps, st.ReduceDone, st.Reduces, state)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
