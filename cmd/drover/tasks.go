package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/tasks"
)

// Bounds of the task commands' flags.
const (
	// maxTaskDuration bounds every duration flag: --in, --timeout,
	// --retention, --deadline-in.
	maxTaskDuration = 366 * 24 * time.Hour
	// defaultTaskLimit and maxTaskLimit bound the rows of drover task ls.
	defaultTaskLimit = 100
	maxTaskLimit     = 100000
)

// taskRun runs a verb of drover task on the task queue, with its
// positional arguments, checked by taskArgs.
type taskRun func(ctx context.Context, c *tasks.Client, pos []string, stdout, stderr io.Writer) error

// taskVerb is one verb of drover task. flags registers the verb's own
// flags on fs and returns their check and the verb's run.
type taskVerb struct {
	name, synopsis, summary string
	flags                   func(fs *flag.FlagSet) (check func() error, run taskRun)
}

// noFlags is the flags of a verb that has none but the connection's.
func noFlags(run taskRun) func(*flag.FlagSet) (func() error, taskRun) {
	return func(*flag.FlagSet) (func() error, taskRun) { return func() error { return nil }, run }
}

// taskVerbs is drover task's dispatch table.
var taskVerbs = []taskVerb{
	{"enqueue", "TYPE [JSON] [flags]", "enqueue a task of TYPE with a JSON payload; prints its ID", enqueueVerb},
	{"ls", "[flags]", "list tasks, oldest first", listVerb},
	{"show", "ID [flags]", "show one task, its payload and its result", noFlags(runTaskShow)},
	{"cancel", "ID [flags]", "cancel a task: archived with 'cancelled'; a running handler's context ends", noFlags(runTaskCancel)},
	{"rerun", "ID [flags]", "run an archived task again, from its first attempt", noFlags(runTaskRerun)},
	{"rm", "ID [flags]", "delete a task in any state; its ID is free again", noFlags(runTaskDelete)},
	{"schedule", "NAME TYPE [JSON] (--every D | --cron SPEC) [flags]", "declare a periodic task, which the leading master started with --schedules enqueues once per period", scheduleVerb},
	{"schedules", "[flags]", "list the periodic tasks", noFlags(runSchedules)},
	{"unschedule", "NAME [flags]", "remove a periodic task", noFlags(runUnschedule)},
}

func runTask(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		var b strings.Builder
		b.WriteString("Usage: drover task <command> [flags] [arguments]\n\nCommands:\n")
		for _, v := range taskVerbs {
			fmt.Fprintf(&b, "  %-10s %s\n", v.name, v.summary)
		}
		b.WriteString("\nRun 'drover task <command> -h' for its flags.\n")
		io.WriteString(stderr, b.String())
		if len(args) == 0 {
			return usagef("task takes a verb: %s", verbNames())
		}
		return nil
	}
	for _, v := range taskVerbs {
		if v.name != args[0] {
			continue
		}
		fs := cli.NewFlagSet("drover task "+v.name, v.synopsis, v.summary, stderr)
		var conn cli.NATSFlags
		conn.Register(fs)
		check, verb := v.flags(fs)
		pos, err := parse(fs, args[1:])
		if err != nil {
			return err
		}
		if err := check(); err != nil {
			return err
		}
		if err := taskArgs(v.name, pos); err != nil {
			return err
		}
		c, nc, err := taskClient(ctx, &conn)
		if err != nil {
			return err
		}
		defer nc.Close()
		return verb(ctx, c, pos, stdout, stderr)
	}
	return usagef("unknown task verb %q: want %s", args[0], verbNames())
}

func verbNames() string {
	names := make([]string, len(taskVerbs))
	for i, v := range taskVerbs {
		names[i] = v.name
	}
	return strings.Join(names, ", ")
}

// taskArgs checks the positional arguments of a verb before it connects.
func taskArgs(verb string, pos []string) error {
	switch verb {
	case "enqueue":
		if len(pos) < 1 || len(pos) > 2 {
			return usagef("task enqueue takes a TYPE and at most a JSON payload")
		}
		if pos[0] == "" || len(pos[0]) > tasks.MaxTypeLen {
			return usagef("task type of %d bytes: want 1 to %d", len(pos[0]), tasks.MaxTypeLen)
		}
		if len(pos) == 2 {
			if len(pos[1]) > tasks.MaxPayloadSize {
				return usagef("payload of %d bytes: at most %d", len(pos[1]), tasks.MaxPayloadSize)
			}
			if !json.Valid([]byte(pos[1])) {
				return usagef("the payload is not valid JSON")
			}
		}
	case "ls", "schedules":
		if len(pos) != 0 {
			return usagef("task %s takes no argument", verb)
		}
	case "schedule":
		if len(pos) < 2 || len(pos) > 3 {
			return usagef("task schedule takes a NAME, a TYPE and at most a JSON payload")
		}
		if len(pos[0]) > tasks.MaxQueueLen {
			return usagef("a schedule's name has at most %d bytes", tasks.MaxQueueLen)
		}
		return taskArgs("enqueue", pos[1:])
	default:
		if len(pos) != 1 {
			return usagef("task %s takes one task ID", verb)
		}
		if len(pos[0]) > tasks.MaxIDLen {
			return usagef("a task ID has at most %d bytes", tasks.MaxIDLen)
		}
	}
	return nil
}

// taskClient connects and opens the task queue.
func taskClient(ctx context.Context, conn *cli.NATSFlags) (*tasks.Client, *nats.Conn, error) {
	nc, err := dial(ctx, conn, "drover")
	if err != nil {
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	c, err := tasks.NewClient(ctx, js, tasks.ClientConfig{})
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return c, nc, nil
}

// enqueueFlagValues are drover task enqueue's options.
type enqueueFlagValues struct {
	id, queue, group, at, deadline string
	maxRetry                       int
	in, timeout, retention         time.Duration
	wait                           bool
}

func enqueueVerb(fs *flag.FlagSet) (func() error, taskRun) {
	f := &enqueueFlagValues{}
	fs.StringVar(&f.id, "id", "", "the task's ID, which makes it unique (default: a random one)")
	fs.StringVar(&f.queue, "queue", tasks.DefaultQueue, "the queue")
	fs.StringVar(&f.group, "group", "", "the group the task joins")
	fs.IntVar(&f.maxRetry, "max-retry", tasks.DefaultMaxRetry, "how many times a failed attempt is tried again (0 to "+strconv.Itoa(tasks.MaxMaxRetry)+")")
	fs.DurationVar(&f.in, "in", 0, "run no sooner than this from now")
	fs.StringVar(&f.at, "at", "", "run no sooner than this time (RFC 3339)")
	fs.DurationVar(&f.timeout, "timeout", 0, "bound each attempt (default "+tasks.DefaultTimeout.String()+")")
	fs.StringVar(&f.deadline, "deadline", "", "bound the task as a whole: a time (RFC 3339)")
	fs.DurationVar(&f.retention, "retention", 0, "keep the task and its result this long once done")
	fs.BoolVar(&f.wait, "wait", false, "wait until the task ends and print its result")
	return func() error {
		for name, d := range map[string]time.Duration{"--in": f.in, "--timeout": f.timeout, "--retention": f.retention} {
			if d < 0 || d > maxTaskDuration {
				return usagef("%s %v: want 0 to %v", name, d, maxTaskDuration)
			}
		}
		if f.maxRetry < 0 || f.maxRetry > tasks.MaxMaxRetry {
			return usagef("--max-retry %d: want 0 to %d", f.maxRetry, tasks.MaxMaxRetry)
		}
		if f.in > 0 && f.at != "" {
			return usagef("give --in or --at, not both")
		}
		return nil
	}, f.enqueue
}

// options turns the flags into the task's options.
func (f *enqueueFlagValues) options() ([]tasks.Option, error) {
	opts := []tasks.Option{tasks.Queue(f.queue), tasks.MaxRetry(f.maxRetry)}
	if f.id != "" {
		opts = append(opts, tasks.TaskID(f.id))
	}
	if f.group != "" {
		opts = append(opts, tasks.Group(f.group))
	}
	if f.in > 0 {
		opts = append(opts, tasks.ProcessIn(f.in))
	}
	if f.timeout > 0 {
		opts = append(opts, tasks.Timeout(f.timeout))
	}
	if f.retention > 0 {
		opts = append(opts, tasks.Retention(f.retention))
	}
	for _, t := range []struct {
		flag, value string
		opt         func(time.Time) tasks.Option
	}{{"--at", f.at, tasks.ProcessAt}, {"--deadline", f.deadline, tasks.Deadline}} {
		if t.value == "" {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, t.value)
		if err != nil {
			return nil, usagef("%s %.40q: want a time such as 2006-01-02T15:04:05Z", t.flag, t.value)
		}
		opts = append(opts, t.opt(at))
	}
	return opts, nil
}

func (f *enqueueFlagValues) enqueue(ctx context.Context, c *tasks.Client, pos []string, stdout, stderr io.Writer) error {
	opts, err := f.options()
	if err != nil {
		return err
	}
	task := &tasks.Task{Type: pos[0], ContentType: rpcq.ContentTypeJSON}
	if len(pos) == 2 {
		task.Payload = []byte(pos[1])
	}
	ti, err := c.Enqueue(ctx, task, opts...)
	if errors.Is(err, tasks.ErrInvalidTask) {
		return usagef("%s", strings.TrimPrefix(err.Error(), "tasks: invalid task: "))
	}
	if err != nil {
		return err
	}
	if ti.Duplicate {
		fmt.Fprintf(stderr, "drover: task %s exists (%s): nothing enqueued\n", ti.ID, ti.State)
	}
	fmt.Fprintln(stdout, ti.ID)
	if !f.wait {
		return nil
	}
	ti, err = c.Wait(ctx, ti.ID)
	if ti != nil && ti.Result != nil {
		fmt.Fprintln(stdout, resultText(ti))
	}
	return err
}

// listFlagValues are drover task ls's filters.
type listFlagValues struct {
	queue, state string
	limit        int
}

func listVerb(fs *flag.FlagSet) (func() error, taskRun) {
	f := &listFlagValues{}
	fs.StringVar(&f.queue, "queue", "", "only the tasks of this queue")
	fs.StringVar(&f.state, "state", "", "only the tasks in this state: "+stateNames())
	fs.IntVar(&f.limit, "limit", defaultTaskLimit, "print at most this many tasks, the oldest (1 to "+strconv.Itoa(maxTaskLimit)+")")
	return func() error {
		if f.limit < 1 || f.limit > maxTaskLimit {
			return usagef("--limit %d: want 1 to %d", f.limit, maxTaskLimit)
		}
		if f.state != "" && !strings.Contains(" "+stateNames()+" ", " "+f.state+" ") {
			return usagef("--state %.40q: want one of %s", f.state, stateNames())
		}
		if len(f.queue) > tasks.MaxQueueLen {
			return usagef("--queue: a queue name has at most %d bytes", tasks.MaxQueueLen)
		}
		return nil
	}, f.list
}

func stateNames() string {
	names := make([]string, len(tasks.States))
	for i, s := range tasks.States {
		names[i] = string(s)
	}
	return strings.Join(names, " ")
}

func (f *listFlagValues) list(ctx context.Context, c *tasks.Client, _ []string, stdout, stderr io.Writer) error {
	all, err := c.List(ctx, f.queue, tasks.State(f.state))
	if err != nil {
		return err
	}
	t := newTable(stdout)
	t.row("ID", "QUEUE", "TYPE", "STATE", "ATTEMPT", "ENQUEUED", "LAST ERROR")
	for i, ti := range all {
		if i == f.limit {
			break
		}
		t.row(ti.ID, ti.Queue, clean(ti.Type), string(ti.State), strconv.Itoa(ti.Attempt),
			ti.EnqueuedAt.UTC().Format(time.RFC3339), clean(firstLine(ti.LastError, 60)))
	}
	t.flush()
	if len(all) > f.limit {
		fmt.Fprintf(stderr, "drover: %d more tasks not shown; --limit shows more\n", len(all)-f.limit)
	}
	return nil
}

// firstLine is s cut to n runes.
func firstLine(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

func runTaskShow(ctx context.Context, c *tasks.Client, pos []string, stdout, _ io.Writer) error {
	ti, err := c.Inspect(ctx, pos[0])
	if err != nil {
		return err
	}
	lines := [][2]string{
		{"ID", ti.ID}, {"Type", clean(ti.Type)}, {"Queue", ti.Queue}, {"Group", ti.Group}, {"State", string(ti.State)},
		{"Attempt", strconv.Itoa(ti.Attempt)}, {"Retried", fmt.Sprintf("%d of %d", ti.Retried, ti.MaxRetry)},
		{"Timeout", ti.Timeout.String()}, {"Deadline", when(ti.Deadline)}, {"Process at", when(ti.ProcessAt)},
		{"Retention", ti.Retention.String()}, {"Enqueued", when(ti.EnqueuedAt)}, {"Started", when(ti.StartedAt)},
		{"Completed", when(ti.CompletedAt)}, {"Worker", clean(ti.Worker)}, {"Last error", clean(ti.LastError)},
		{"Payload", payloadText(ti.Task)},
	}
	if ti.Result != nil {
		lines = append(lines, [2]string{"Result", resultText(ti)})
	}
	for _, l := range lines {
		if l[1] != "" {
			fmt.Fprintf(stdout, "%-11s %s\n", l[0], l[1])
		}
	}
	return nil
}

func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// payloadText shows a payload: JSON as it is, msgpack by its size.
func payloadText(t tasks.Task) string {
	if len(t.Payload) == 0 {
		return ""
	}
	if t.ContentType == rpcq.ContentTypeJSON {
		return compactJSON(t.Payload)
	}
	return fmt.Sprintf("%d bytes of msgpack", len(t.Payload))
}

// resultText shows a task's result as JSON, decoding msgpack.
func resultText(ti *tasks.TaskInfo) string {
	if ti.ContentType == rpcq.ContentTypeJSON {
		return compactJSON(ti.Result)
	}
	var v any
	if err := ti.DecodeResult(&v); err != nil {
		return fmt.Sprintf("%d bytes of msgpack", len(ti.Result))
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%d bytes of msgpack", len(ti.Result))
	}
	return clean(string(data))
}

func runTaskCancel(ctx context.Context, c *tasks.Client, pos []string, stdout, _ io.Writer) error {
	if err := c.Cancel(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "task %s cancelled\n", pos[0])
	return nil
}

func runTaskRerun(ctx context.Context, c *tasks.Client, pos []string, stdout, _ io.Writer) error {
	if _, err := c.Rerun(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "task %s enqueued again\n", pos[0])
	return nil
}

func runTaskDelete(ctx context.Context, c *tasks.Client, pos []string, stdout, _ io.Writer) error {
	if err := c.Delete(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "task %s deleted\n", pos[0])
	return nil
}
