package tasks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/nats-io/nats.go/jetstream"
)

// QueueInfo is a queue as it stands: how many of its tasks are in each
// state, by their records, and what its consumer has delivered.
type QueueInfo struct {
	Name string
	// Tasks counts the queue's tasks by state.
	Tasks map[State]int
	// Waiting is how many of its messages no worker has taken yet, and
	// InFlight how many workers hold: running, or handed back to wait for
	// their schedule or backoff. Both are 0 before any server has opened
	// the queue.
	Waiting, InFlight uint64
	// Delivered counts every message the queue's consumer has handed to a
	// worker since it was created, redeliveries included: two readings
	// apart give its rate.
	Delivered uint64
}

// Queues returns every queue that has a task or a consumer, by name. It
// reads every record (a scan, as List does) and each queue's consumer.
func (c *Client) Queues(ctx context.Context) ([]QueueInfo, error) {
	byName := map[string]*QueueInfo{}
	get := func(name string) *QueueInfo {
		q := byName[name]
		if q == nil {
			q = &QueueInfo{Name: name, Tasks: map[State]int{}}
			byName[name] = q
		}
		return q
	}
	now := c.cfg.Clock()
	if err := c.st.scan(ctx, c.log, func(r record) { get(r.Queue).Tasks[r.info(now).State]++ }); err != nil {
		return nil, err
	}
	names := c.st.queue.ListConsumers(ctx)
	for ci := range names.Info() {
		if q, ok := queueOfConsumer(ci.Name); ok {
			ti := get(q)
			ti.Waiting, ti.InFlight, ti.Delivered = ci.NumPending, uint64(max(ci.NumAckPending, 0)), ci.Delivered.Consumer
		}
	}
	if err := names.Err(); err != nil && !errors.Is(err, jetstream.ErrEndOfData) {
		return nil, fmt.Errorf("tasks: list consumers: %w", err)
	}
	out := make([]QueueInfo, 0, len(byName))
	for _, name := range slices.Sorted(maps.Keys(byName)) {
		out = append(out, *byName[name])
	}
	return out, nil
}
