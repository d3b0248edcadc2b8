package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// ioTimeout bounds the JetStream calls made after the caller's context
// may have ended: cleanups that must not be left half done.
const ioTimeout = 10 * time.Second

// maxCASTries bounds the compare-and-set loops: each lost write means
// another process changed the task, which it does a few times at most.
const maxCASTries = 16

// List returns the tasks of queue in state, oldest first; an empty queue
// or state matches any. It reads every record of the bucket in one
// watch: a scan, for inspection, not for a hot path.
func (c *Client) List(ctx context.Context, queue string, state State) ([]*TaskInfo, error) {
	now := c.cfg.Clock()
	var out []*TaskInfo
	err := c.st.scan(ctx, c.log, func(r record) {
		ti := r.info(now)
		if (queue == "" || ti.Queue == queue) && (state == "" || ti.State == state) {
			out = append(out, ti)
		}
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *TaskInfo) int {
		return cmp.Or(a.EnqueuedAt.Compare(b.EnqueuedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// change applies step to task id's record with compare-and-set until a
// write wins, and returns the record as it was and as it became. step
// returns an error to change nothing.
func (c *Client) change(ctx context.Context, id string, step func(record) (record, error)) (before, after record, err error) {
	if !validName(id, MaxIDLen) {
		return before, after, ErrTaskNotFound
	}
	for range maxCASTries {
		r, rev, err := c.st.get(ctx, id)
		if err != nil {
			return r, r, err
		}
		next, err := step(r)
		if err != nil {
			return r, r, err
		}
		if _, err := c.st.update(ctx, next, rev); !errors.Is(err, errConflict) {
			return r, next, err
		}
	}
	return before, after, fmt.Errorf("tasks: %s changes too fast: %w", id, errConflict)
}

// Cancel archives task id with ErrCancelled, whatever it was doing but
// done or archived (ErrWrongState). A waiting task leaves its queue; a
// running one has its handler's context cancelled, by a notice that
// reaches its worker at once, or by the worker's next heartbeat if the
// notice is lost. A cancelled task can be re-run, or deleted.
func (c *Client) Cancel(ctx context.Context, id string) error {
	before, _, err := c.change(ctx, id, func(r record) (record, error) {
		if r.State.terminal() {
			return r, fmt.Errorf("%w: %s is %s", ErrWrongState, id, r.State)
		}
		return archivedFor(r, ErrCancelled, c.cfg.Clock()), nil
	})
	if err != nil {
		return err
	}
	return c.stop(ctx, before)
}

// stop ends what task r was doing (before) now that its record says it
// is archived: a running task's worker is told, and
// closes its group place itself once its handler has returned, for the
// handler may still add tasks to the group; a waiting task's message is
// withdrawn and its place closed here.
func (c *Client) stop(ctx context.Context, before record) error {
	if before.State == StateRunning {
		c.notify(before.ID)
		return nil
	}
	if err := c.st.withdraw(ctx, before); err != nil {
		return fmt.Errorf("tasks: withdraw %s: %w", before.ID, err)
	}
	return c.st.closeGroup(ctx, before)
}

// Delete removes task id in any state: a waiting task leaves its queue, a
// running one is cancelled as by Cancel, and its ID is free at once.
func (c *Client) Delete(ctx context.Context, id string) error {
	if !validName(id, MaxIDLen) {
		return ErrTaskNotFound
	}
	for range maxCASTries {
		r, rev, err := c.st.get(ctx, id)
		if errors.Is(err, ErrInvalidTask) {
			// A record nobody can run is deleted all the same.
			return c.st.tasks.Delete(ctx, id, jetstream.LastRevision(rev))
		}
		if err != nil {
			return err
		}
		if err := c.st.remove(ctx, id, rev); errors.Is(err, errConflict) {
			continue
		} else if err != nil {
			return fmt.Errorf("tasks: delete %s: %w", id, err)
		}
		// Nobody will find the record to close the task's group place: a
		// running handler's later enqueues no longer hold its group open.
		if r.State == StateRunning {
			c.notify(r.ID)
		} else if err := c.st.withdraw(ctx, r); err != nil {
			return fmt.Errorf("tasks: withdraw %s: %w", id, err)
		}
		return c.st.closeGroup(ctx, r)
	}
	return fmt.Errorf("tasks: %s changes too fast: %w", id, errConflict)
}

// Rerun runs archived task id again, from its first attempt, as a new
// run in its queue and its group; ErrWrongState if it is not archived.
func (c *Client) Rerun(ctx context.Context, id string) (*TaskInfo, error) {
	_, after, err := c.change(ctx, id, func(r record) (record, error) {
		if r.State != StateArchived {
			return r, fmt.Errorf("%w: %s is %s, not archived", ErrWrongState, id, r.State)
		}
		return rerun(r, nuid.Next(), c.cfg.Clock()), nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.st.openGroup(ctx, after); err != nil {
		return nil, err
	}
	if _, err := c.st.publish(ctx, after, nil, 0); err != nil {
		return nil, err
	}
	return after.info(c.cfg.Clock()), nil
}

// WaitGroup blocks until group is done: none of its tasks is pending,
// scheduled, running or retrying. It watches the group's open tasks
// (BucketGroups), so it returns as soon as the last one ends. A task
// joins its group before Enqueue returns, and a running task's place is
// closed only after its handler returns: the tasks a handler enqueues
// into its own group keep the group open. A group with no task at all
// is done, so call WaitGroup after enqueuing the first.
func (c *Client) WaitGroup(ctx context.Context, group string) error {
	if !validName(group, MaxQueueLen) {
		return fmt.Errorf("%w: group %.80q", ErrInvalidTask, group)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := c.st.groups.Watch(ctx, GroupKeys(group))
	if err != nil {
		return fmt.Errorf("tasks: watch group %s: %w", group, err)
	}
	defer w.Stop()
	// The watcher's own end-of-initial-values marker can come before a
	// key written as the watch began, which would end the wait with the
	// group open. The group's last revision, read once the watch is on,
	// is what the watch must reach instead: every entry up to it was
	// there when the watch began, or came after it began.
	last, err := c.st.lastGroupRevision(ctx, group)
	if err != nil {
		return err
	}
	open := map[string]bool{}
	current := last == 0 // the initial values have come
	for !current || len(open) > 0 {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok = <-w.Updates():
		}
		if !ok {
			return fmt.Errorf("tasks: watch group %s: stopped", group)
		}
		if e == nil {
			continue
		}
		if e.Operation() == jetstream.KeyValuePut {
			open[e.Key()] = true
		} else {
			delete(open, e.Key())
		}
		if e.Revision() >= last {
			current = true
		}
	}
	return nil
}

// notify tells the worker running task id that it should stop: the fast
// path, for its heartbeat reads the record too.
func (c *Client) notify(id string) {
	if err := c.st.js.Conn().Publish(CancelSubject(id), nil); err != nil {
		c.log.Warn("tasks: cancel notice; the worker's heartbeat will see it", "task", id, "error", err)
	}
}
