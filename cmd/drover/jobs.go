package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

func runSubmit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("submit", stderr, "--app APP [flags] FILE...")
	var conn cli.NATSFlags
	conn.Register(fs)
	conn.RegisterAs(fs)
	var job jobFlags
	job.register(fs)
	noReuse := fs.Bool("no-reuse", false, "run every map task, even one an earlier job ran on the same input")
	shared := fs.Bool("shared", false, "do not upload: every worker reads the files at these paths")
	wait := fs.Bool("wait", false, "show progress and wait for the job to end")
	files, err := parse(fs, args)
	if err != nil {
		return err
	}
	spec, err := job.spec()
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return usagef("submit takes at least one file")
	}
	spec.NoReuse = *noReuse
	s, err := connect(ctx, &conn)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.master.ready(ctx); err != nil { // before any upload
		return err
	}
	store, err := s.bind(ctx)
	if err != nil {
		return err
	}
	for _, f := range files {
		st, err := inputFile(f)
		if err != nil {
			return err
		}
		if *shared {
			abs, _ := filepath.Abs(f)
			spec.Inputs = append(spec.Inputs, mr.Input{Name: filepath.Base(f), Path: abs, Size: st.Size()})
			continue
		}
		inputs, err := mr.Upload(ctx, store, f, spec.SplitSize)
		if err != nil {
			return err
		}
		spec.Inputs = append(spec.Inputs, inputs...)
	}
	if err := sampleSortCuts(&spec, files); err != nil {
		return err
	}
	id, err := s.master.submit(ctx, spec)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, id)
	if !*wait {
		return nil
	}
	_, err = follow(ctx, s.master, id, stderr)
	return err
}

func runStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, id, err := jobSession(ctx, "status", args, stderr, nil)
	if err != nil {
		return err
	}
	defer s.close()
	st, err := s.master.status(ctx, id)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "job\t%s\napp\t%s\nstate\t%s\n", st.ID, st.App, st.State)
	if st.Waiting != "" {
		fmt.Fprintf(w, "waiting\t%s\n", st.Waiting)
	}
	fmt.Fprintf(w, "maps\t%d/%d", st.MapsDone, st.Maps)
	if st.MapsReused > 0 {
		fmt.Fprintf(w, " (%d reused from earlier jobs)", st.MapsReused)
	}
	fmt.Fprintf(w, "\nreduces\t%d/%d\n", st.ReduceDone, st.Reduces)
	fmt.Fprintf(w, "counters\t%s\n", st.Counters)
	fmt.Fprintf(w, "submitted\t%s%s\n", time.Unix(0, st.Submitted).Format(time.RFC3339), suffix(" by ", st.Owner))
	if st.Ended != 0 {
		fmt.Fprintf(w, "took\t%v\n", time.Duration(st.Ended-st.Submitted).Round(time.Millisecond))
	}
	if b := st.Backups; b.Launched > 0 {
		fmt.Fprintf(w, "backups\t%d launched, %d won, %d wasted\n", b.Launched, b.Won, b.Wasted)
	}
	for _, note := range st.Notes {
		fmt.Fprintf(w, "note\t%s\n", note)
	}
	if st.Error != "" {
		fmt.Fprintf(w, "error\t%s\n", st.Error)
	}
	return w.Flush()
}

func runJobs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("jobs", stderr, "[flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	conn.RegisterAs(fs)
	limit := fs.Int("limit", 50, "list at most this many jobs, newest first (0: all)")
	after := fs.String("after", "", "list the jobs older than this one, as the hint after a cut list says")
	by := fs.String("by", "", "list the jobs this user submitted alone (a submitter sees its own jobs alone whatever it gives)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("jobs takes no arguments")
	}
	if *limit < 0 {
		return usagef("--limit %d: want 0 or more", *limit)
	}
	if *by != "" && !rpcq.ValidCaller(*by) {
		return usagef("--by %.80q: want a user name: 1 to %d letters, digits, '-' and '_'", *by, rpcq.MaxCallerLen)
	}
	s, err := connect(ctx, &conn)
	if err != nil {
		return err
	}
	defer s.close()
	w := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "JOB\tAPP\tSTATE\tMAPS\tREDUCES\tSUBMITTED\tBY")
	page := master.ListPage{Next: *after}
	for n := 0; n == 0 || page.Next != ""; {
		want := master.MaxListLimit
		if *limit > 0 {
			want = min(want, *limit-n)
		}
		if want == 0 {
			break
		}
		if err := s.master.call(ctx, mr.MethodListPage, master.ListArgs{Limit: want, After: page.Next, Owner: *by}, &page); err != nil {
			return err
		}
		for _, st := range page.Jobs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d/%d\t%d/%d\t%s\t%s\n", st.ID, st.App, st.State, st.MapsDone, st.Maps,
				st.ReduceDone, st.Reduces, time.Unix(0, st.Submitted).Format(time.DateTime), cmp.Or(st.Owner, "-"))
		}
		n += len(page.Jobs)
		if len(page.Jobs) == 0 {
			break
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if page.Next != "" {
		fmt.Fprintf(stderr, "more jobs: drover jobs --after %s%s\n", page.Next, suffix(" --by ", *by))
	}
	return nil
}

func runGet(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var out *string
	var force *bool
	s, id, err := jobSession(ctx, "get", args, stderr, func(fs *flag.FlagSet) func() error {
		out = fs.String("o", "", "directory to write the output files into (required); it must be empty or absent")
		force = fs.Bool("force", false, "write into a directory holding an earlier job's part-* files, replacing them")
		return func() error {
			if *out == "" {
				return usagef("get takes -o DIR")
			}
			return nil
		}
	})
	if err != nil {
		return err
	}
	defer s.close()
	st, err := s.master.status(ctx, id)
	if err != nil {
		return err
	}
	if st.State != master.JobDone {
		return fmt.Errorf("job %s is %s, not done%s", st.ID, st.State, suffix(": ", st.Error))
	}
	stale, err := checkOutputDir(*out, *force)
	if err != nil {
		return err
	}
	if err := writeOutputs(ctx, s.master, st, *out, stale); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d files in %s\n", len(st.Outputs), *out)
	return nil
}

func runCancel(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, id, err := jobSession(ctx, "cancel", args, stderr, nil)
	if err != nil {
		return err
	}
	defer s.close()
	st, err := s.master.status(ctx, id)
	if err != nil {
		return err
	}
	if st.State.Ended() {
		fmt.Fprintf(stdout, "job %s had already ended: %s; nothing to cancel\n", id, st.State)
		return nil
	}
	if err := s.master.call(ctx, mr.MethodCancel, master.JobArgs{ID: id}, nil); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "job %s cancelled\n", id)
	return nil
}

// runDelete removes an ended job. The master refuses a running one, with
// a line that says to cancel it first.
func runDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, id, err := jobSession(ctx, "delete", args, stderr, nil)
	if err != nil {
		return err
	}
	defer s.close()
	var reply master.DeleteReply
	if err := s.master.call(ctx, mr.MethodDelete, master.JobArgs{ID: id}, &reply); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "job %s deleted, with %d output objects\n", id, reply.Objects)
	return nil
}

// jobSession parses the arguments of a command on one job, with the
// flags that flags adds (it returns their check), and connects.
func jobSession(ctx context.Context, name string, args []string, stderr io.Writer, flags func(*flag.FlagSet) func() error) (*session, string, error) {
	fs := flagSet(name, stderr, "JOB [flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	conn.RegisterAs(fs)
	check := func() error { return nil }
	if flags != nil {
		check = flags(fs)
	}
	pos, err := parse(fs, args)
	if err != nil {
		return nil, "", err
	}
	if len(pos) != 1 {
		return nil, "", usagef("%s takes one job ID", name)
	}
	if err := check(); err != nil {
		return nil, "", err
	}
	s, err := connect(ctx, &conn)
	if err != nil {
		return nil, "", err
	}
	return s, pos[0], nil
}

func suffix(sep, s string) string {
	if s == "" {
		return ""
	}
	return sep + s
}
