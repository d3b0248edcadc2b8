package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/mr"
)

func runWorkers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("workers", stderr, "[flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("workers takes no arguments")
	}
	s, err := connect(ctx, &conn)
	if err != nil {
		return err
	}
	defer s.close()
	store, err := s.bind(ctx)
	if err != nil {
		return err
	}
	workers, skipped, err := mr.ListWorkers(ctx, store.Registry)
	if err != nil {
		return err
	}
	printWorkers(stdout, workers, time.Now())
	if skipped > 0 {
		fmt.Fprintf(stderr, "drover: %d registry entries left out: they break its bounds\n", skipped)
	}
	return nil
}

// printWorkers writes the workers' table, with how long ago each was seen
// and each task has run, as of now.
func printWorkers(w io.Writer, workers []mr.WorkerInfo, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKER\tHOST\tPID\tVERSION\tBUSY\tAPPS\tEXEC\tRUNNING\tSEEN")
	for _, wk := range workers {
		exec := "no"
		if wk.Exec {
			exec = "yes"
		}
		running := make([]string, 0, len(wk.Running))
		for _, t := range wk.Running {
			running = append(running, fmt.Sprintf("%s/%s/%d#%d (%s)", t.Job, t.Phase, t.Index, t.Attempt, ago(now, time.Unix(0, t.Since))))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d/%d\t%s\t%s\t%s\t%s ago\n", wk.ID, wk.Host, wk.PID, dash(wk.Version), wk.Busy(), wk.Slots,
			dash(strings.Join(wk.Apps, ",")), exec, dash(strings.Join(running, " ")), ago(now, wk.Seen))
	}
	tw.Flush()
	if len(workers) == 0 {
		fmt.Fprintln(w, "no live worker")
	}
}

// ago is how long before now t was, to the tenth of a second; clocks a
// little apart make it 0, never negative.
func ago(now, t time.Time) time.Duration { return max(now.Sub(t), 0).Round(100 * time.Millisecond) }

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
