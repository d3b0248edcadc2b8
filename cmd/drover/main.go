// Command drover is Drover's command-line client.
//
//	drover run --app wordcount -o DIR FILE...   (a whole job in this process)
//	drover submit --app wordcount [--wait] FILE...
//	drover status JOB | drover jobs | drover get JOB -o DIR | drover cancel JOB
//	drover call Service.Method ['JSON'] [--timeout 5s] [--nats URL]
//	drover time [--samples 8] [--timeout 5s] [--nats URL]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/drover-dev/drover/internal/cli"
)

// command is one drover subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

var commands = []command{
	{"run", "run a MapReduce job in this process: broker, master and workers", runRun},
	{"submit", "submit a MapReduce job to a running master; prints its ID", runSubmit},
	{"status", "show a job's state, progress and counters", runStatus},
	{"jobs", "list the jobs", runJobs},
	{"get", "write a finished job's output files into a directory", runGet},
	{"cancel", "cancel a job", runCancel},
	{"call", "call an rpcq method with a JSON argument and print the JSON reply", runCall},
	{"time", "measure this machine's clock offset from the Time service (Cristian's algorithm)", runTime},
}

// usageError is a mistake in how drover was invoked: exit status 2.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func main() {
	ctx, stop := cli.SignalContext(context.Background())
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// exitCode prints err as one line and maps it to an exit status.
func exitCode(err error, stderr io.Writer) int {
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "drover:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "drover:", err)
		return 1
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stderr)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	return usagef("unknown command %q; run 'drover help'", args[0])
}

func printUsage(w io.Writer) {
	var b strings.Builder
	b.WriteString("Usage: drover <command> [flags] [arguments]\n\nCommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun 'drover <command> -h' for a command's flags.\n")
	io.WriteString(w, b.String())
}

// flagSet is a subcommand's flag set that reports parse errors as usage errors.
func flagSet(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("drover "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: drover %s %s\n\nFlags:\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a subcommand's arguments; a bad flag is a usage error.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, err := cli.Parse(fs, args)
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		return nil, usageError{err.Error()}
	}
	return pos, err
}
