package main

import (
	"context"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/tasks"
)

// maxQueuesInterval bounds drover queues --interval.
const maxQueuesInterval = time.Minute

func runQueues(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("queues", stderr, "[flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	interval := fs.Duration("interval", time.Second, "how long the rate is measured over (0 for no rate, at most "+maxQueuesInterval.String()+")")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("queues takes no argument")
	}
	if *interval < 0 || *interval > maxQueuesInterval {
		return usagef("--interval %v: want 0 to %v", *interval, maxQueuesInterval)
	}
	c, nc, err := taskClient(ctx, &conn)
	if err != nil {
		return err
	}
	defer nc.Close()
	before, err := c.Queues(ctx)
	if err != nil {
		return err
	}
	after := before
	if *interval > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(*interval):
		}
		if after, err = c.Queues(ctx); err != nil {
			return err
		}
	}
	printQueues(stdout, before, after, *interval)
	return nil
}

// printQueues writes a row per queue of after: its tasks by state, its
// messages waiting and held, and the rate at which its consumer handed
// out messages since before, interval earlier.
func printQueues(w io.Writer, before, after []tasks.QueueInfo, interval time.Duration) {
	delivered := map[string]uint64{}
	for _, q := range before {
		delivered[q.Name] = q.Delivered
	}
	t := newTable(w)
	header := []string{"QUEUE"}
	for _, s := range tasks.States {
		header = append(header, strings.ToUpper(string(s)))
	}
	header = append(header, "WAITING", "IN FLIGHT", "DELIVERED/S")
	t.row(header...)
	for _, q := range after {
		row := []string{q.Name}
		for _, s := range tasks.States {
			row = append(row, strconv.Itoa(q.Tasks[s]))
		}
		rate := "-"
		if d, ok := delivered[q.Name]; ok && interval > 0 && q.Delivered >= d {
			rate = strconv.FormatFloat(float64(q.Delivered-d)/interval.Seconds(), 'f', 1, 64)
		}
		row = append(row, strconv.FormatUint(q.Waiting, 10), strconv.FormatUint(q.InFlight, 10), rate)
		t.row(row...)
	}
	t.flush()
}
