package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/tasks"
)

// scheduleFlagValues are drover task schedule's options.
type scheduleFlagValues struct {
	cron, queue               string
	every, timeout, retention time.Duration
	maxRetry                  int
}

func scheduleVerb(fs *flag.FlagSet) (func() error, taskRun) {
	f := &scheduleFlagValues{}
	fs.StringVar(&f.cron, "cron", "", "the periods: a cron expression of five fields, or @hourly, @daily..., in UTC")
	fs.DurationVar(&f.every, "every", 0, "the periods: an interval of whole seconds, from the Unix epoch")
	fs.StringVar(&f.queue, "queue", tasks.DefaultQueue, "the queue of the tasks")
	fs.IntVar(&f.maxRetry, "max-retry", tasks.DefaultMaxRetry, "how many times a failed attempt is tried again (0 to "+strconv.Itoa(tasks.MaxMaxRetry)+")")
	fs.DurationVar(&f.timeout, "timeout", 0, "bound each attempt (default "+tasks.DefaultTimeout.String()+")")
	fs.DurationVar(&f.retention, "retention", 0, "keep each period's task this long once done (default "+tasks.DefaultScheduleRetention.String()+"); longer than a master failover")
	return func() error {
		if (f.cron == "") == (f.every == 0) {
			return usagef("give --every or --cron, one of them")
		}
		if len(f.cron) > tasks.MaxScheduleSpecLen {
			return usagef("--cron: at most %d bytes", tasks.MaxScheduleSpecLen)
		}
		for name, d := range map[string]time.Duration{"--every": f.every, "--timeout": f.timeout, "--retention": f.retention} {
			if d < 0 || d > maxTaskDuration {
				return usagef("%s %v: want 0 to %v", name, d, maxTaskDuration)
			}
		}
		if f.maxRetry < 0 || f.maxRetry > tasks.MaxMaxRetry {
			return usagef("--max-retry %d: want 0 to %d", f.maxRetry, tasks.MaxMaxRetry)
		}
		return nil
	}, f.schedule
}

func (f *scheduleFlagValues) schedule(ctx context.Context, c *tasks.Client, pos []string, stdout, _ io.Writer) error {
	s := tasks.Schedule{
		Name: pos[0], Cron: f.cron, Every: f.every, Type: pos[1], ContentType: rpcq.ContentTypeJSON,
		Queue: f.queue, MaxRetry: f.maxRetry, Timeout: f.timeout, Retention: f.retention,
	}
	if len(pos) == 3 {
		s.Payload = []byte(pos[2])
	}
	err := c.SetSchedule(ctx, s)
	if errors.Is(err, tasks.ErrInvalidTask) {
		return usagef("%s", strings.TrimPrefix(err.Error(), "tasks: invalid task: "))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schedule %s set\n", s.Name)
	return nil
}

func runSchedules(ctx context.Context, c *tasks.Client, _ []string, stdout, _ io.Writer) error {
	all, err := c.Schedules(ctx)
	if err != nil {
		return err
	}
	t := newTable(stdout)
	t.row("NAME", "PERIOD", "TYPE", "QUEUE", "LAST PERIOD")
	for _, s := range all {
		period := "every " + s.Every.String()
		if s.Cron != "" {
			period = clean(s.Cron)
		}
		last := "-"
		if !s.Last.IsZero() {
			last = s.Last.UTC().Format(time.RFC3339)
		}
		t.row(s.Name, period, clean(s.Type), s.Queue, last)
	}
	t.flush()
	return nil
}

func runUnschedule(ctx context.Context, c *tasks.Client, pos []string, stdout, _ io.Writer) error {
	if err := c.DeleteSchedule(ctx, pos[0]); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "schedule %s removed\n", pos[0])
	return nil
}
