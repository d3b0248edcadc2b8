// Command drover is Drover's command-line client.
//
//	drover run --app wordcount -o DIR FILE...   (a whole job in this process)
//	drover submit --app wordcount [--wait] FILE...
//	drover status JOB | drover jobs | drover get JOB -o DIR | drover cancel JOB | drover delete JOB
//	drover workers
//	drover gen --size 1GiB [--seed 1] -o FILE
//	drover call Service.Method ['JSON'] [--timeout 5s] [--nats URL]
//	drover time [--samples 8] [--timeout 5s] [--nats URL]
//	drover task enqueue|ls|show|cancel|rerun|rm ... | drover queues
//	drover ui [--http 127.0.0.1:8080] [--nats URL]
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/drover-dev/drover/internal/cli"
)

// command is one drover subcommand.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// commands is the dispatch table, filled by init: each command's flag set
// looks up its summary here.
var commands []command

func init() {
	commands = []command{
		{"run", "run a MapReduce job in this process: broker, master and workers", runRun},
		{"submit", "submit a MapReduce job to a running master; prints its ID", runSubmit},
		{"status", "show a job's state, progress and counters", runStatus},
		{"jobs", "list the jobs", runJobs},
		{"get", "write a finished job's output files into a directory", runGet},
		{"cancel", "cancel a job", runCancel},
		{"delete", "remove an ended job: its outputs, its records and its events", runDelete},
		{"workers", "list the live workers: their slots, apps and running tasks", runWorkers},
		{"gen", "write a file of random 100-byte records from a seed, for the sort app (as teragen)", runGen},
		{"ready", "wait until the broker answers, and the services named with --service", runReady},
		{"call", "call an rpcq method with a JSON argument and print the JSON reply", runCall},
		{"time", "measure this machine's clock offset from the Time service (Cristian's algorithm)", runTime},
		{"services", "list the micro services on NATS, their endpoints or their stats (as nats micro ls/info/stats)", runServices},
		{"task", "enqueue, list, show, cancel, re-run or delete general tasks (drover task help)", runTask},
		{"queues", "show each task queue's tasks by state, its depth and its delivery rate", runQueues},
		{"ui", "serve the web dashboard: jobs, their tasks and timeline, workers, the cluster", runUI},
		{"auth", "write a broker configuration with a NATS user per role (init), or list the roles (roles)", runAuth},
	}
}

func main() { cli.Main("drover", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "version" || args[0] == "--version") {
		return cli.ErrVersion
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stderr)
		if len(args) == 0 {
			return usagef("no command given")
		}
		return nil
	}
	for _, c := range commands {
		if c.name == args[0] {
			ctx, refusal := refusable(ctx)
			return refusal(c.run(ctx, args[1:], stdout, stderr))
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
	b.WriteString("\nRun 'drover <command> -h' for a command's flags, 'drover version' for the version.\n")
	io.WriteString(w, b.String())
}

// flagSet is a subcommand's flag set: its -h page opens with the
// command's summary.
func flagSet(name string, stderr io.Writer, synopsis string) *flag.FlagSet {
	var summary string
	for _, c := range commands {
		if c.name == name {
			summary = c.summary
		}
	}
	return cli.NewFlagSet("drover "+name, synopsis, summary, stderr)
}

// parse and usagef are cli's, under the names every command file uses.
var (
	parse  = cli.Parse
	usagef = cli.Usagef
)
