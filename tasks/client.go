package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"
)

// DefaultArchiveFor is how long an archived task is kept, for Rerun and
// inspection, before the broker forgets it and its ID is free again.
const DefaultArchiveFor = 30 * 24 * time.Hour

// ClientConfig describes a client. Zero fields take their defaults.
type ClientConfig struct {
	// Store says how missing streams and buckets are created.
	Store StoreConfig
	// ArchiveFor is how long a task this client enqueues is kept once
	// archived (default DefaultArchiveFor); it may not be negative.
	ArchiveFor time.Duration
	// Clock is the time of ProcessIn and of the records' timestamps
	// (default time.Now). Workers judge a task's schedule and deadline by
	// their own clocks: in a deployment, give both a timesvc.Clock's Now.
	Clock func() time.Time
	// Logger receives what the client cannot return (default slog.Default).
	Logger *slog.Logger
}

// Client enqueues tasks and inspects and controls them. It is safe for
// concurrent use, and holds no goroutine: there is nothing to close.
type Client struct {
	st  *store
	cfg ClientConfig
	log *slog.Logger
}

// NewClient opens the task queue on js, creating its streams and buckets
// if they are missing.
func NewClient(ctx context.Context, js jetstream.JetStream, cfg ClientConfig) (*Client, error) {
	if cfg.ArchiveFor < 0 {
		return nil, fmt.Errorf("%w: ArchiveFor %v is negative", ErrInvalidConfig, cfg.ArchiveFor)
	}
	cfg.ArchiveFor = cmp.Or(cfg.ArchiveFor, DefaultArchiveFor)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	st, err := openStore(ctx, js, cfg.Store)
	if err != nil {
		return nil, err
	}
	return &Client{st: st, cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default())}, nil
}

// Enqueue puts task in its queue with opts and returns it as recorded.
//
// The task's ID (TaskID, or a random one) is claimed first, by creating
// its record in BucketTasks: of any number of concurrent Enqueues of one
// ID, from any process, exactly one creates it, and the others return
// that task with Duplicate set and enqueue nothing. The claim lasts as
// long as the record: while the task waits, runs or retries, then for its
// Retention once done or for ClientConfig.ArchiveFor once archived, and
// until Delete: far longer than the work queue's duplicate window (two
// minutes), which only catches a publish retried soon after and would
// let the same ID in again once a slow task outlived it.
//
// Then the task joins its group, if it has one, and its message is
// published, with a copy of the record as created (HeaderRecord) for the
// worker that takes it to claim it without reading it. If either fails,
// the claim is withdrawn and the error returned, so that Enqueue may
// simply be called again. A task outside any group whose record is too
// large to copy has its message published at the same time as its record
// is created (createPublishing): its worker reads the record anyway, so
// waiting for the create would gain nothing.
func (c *Client) Enqueue(ctx context.Context, task *Task, opts ...Option) (*TaskInfo, error) {
	now := c.cfg.Clock()
	r, err := newRecord(task, opts, now, c.cfg.ArchiveFor, nuid.Next)
	if err != nil {
		return nil, err
	}
	data := r.encode()
	cp := copyOf(data)
	together := r.Group == "" && cp == nil
	for range 3 { // a taken ID whose record expires meanwhile is tried again
		var rev uint64
		if together {
			rev, err = c.createPublishing(ctx, r, data)
		} else {
			rev, err = c.st.create(ctx, r, data)
		}
		if errors.Is(err, jetstream.ErrKeyExists) {
			old, oldRev, gerr := c.st.get(ctx, r.ID)
			if errors.Is(gerr, ErrTaskNotFound) {
				continue
			}
			if gerr != nil {
				return nil, gerr
			}
			if err := c.repair(ctx, old, oldRev); err != nil {
				return nil, err
			}
			ti := old.info(now)
			ti.Duplicate = true
			return ti, nil
		}
		if err != nil {
			return nil, fmt.Errorf("tasks: enqueue %s: %w", r.ID, err)
		}
		if together {
			return r.info(now), nil
		}
		if err := c.st.openGroup(ctx, r); err != nil {
			c.release(r, rev)
			return nil, err
		}
		if _, err := c.st.publish(ctx, r, cp, rev); err != nil {
			c.release(r, rev)
			return nil, err
		}
		return r.info(now), nil
	}
	return nil, fmt.Errorf("tasks: enqueue %s: its ID is being freed and taken again", r.ID)
}

// createPublishing creates r's record (data, r encoded) and publishes its
// message, with no copy of the record, at once, not one after the other:
// the Enqueue waits for one round trip to the broker, not two. The broker
// stores the two in either order, so a worker may receive the message
// before the record is there; it looks again before it takes the task for
// deleted (see handle). If the record is not created (its ID is taken,
// or the create failed), the message is deleted again before
// createPublishing returns; if the message is not published, the record
// is released. A worker that gets a message whose record holds another
// run drops it, as it drops a stale run's.
func (c *Client) createPublishing(ctx context.Context, r record, data []byte) (uint64, error) {
	type created struct {
		rev uint64
		err error
	}
	done := make(chan created, 1)
	go func() {
		rev, err := c.st.create(ctx, r, data)
		done <- created{rev, err}
	}()
	seq, perr := c.st.publish(ctx, r, nil, 0)
	cr := <-done
	switch {
	case cr.err != nil:
		if perr == nil {
			c.unpublish(r, seq)
		}
		return 0, cr.err
	case perr != nil:
		c.release(r, cr.rev)
		return 0, perr
	}
	return cr.rev, nil
}

// unpublish deletes the message at seq of a task whose record was not
// created by this Enqueue.
func (c *Client) unpublish(r record, seq uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.st.unpublish(ctx, seq); err != nil {
		c.log.Warn("tasks: delete the message of a task not enqueued; a worker drops it", "task", r.ID, "error", err)
	}
}

// repair makes sure that a task another Enqueue of its ID found, and
// that has not ended, holds its place in its group and has its message
// in its queue. A producer killed between creating the record and
// publishing leaves the task without them until the sweep finds it, a
// minute or more later; meanwhile its group would look done to WaitGroup.
// The usual producer of the same ID again is a handler run again after
// its worker died, whose group must stay open: so the duplicate Enqueue
// finishes the dead one's work. Both writes are idempotent: the place is
// created only if it is missing, and the message has the run's own ID,
// so that one publish of an Enqueue still under way is stored once. r is
// the record as read, at revision rev.
func (c *Client) repair(ctx context.Context, r record, rev uint64) error {
	if r.State.terminal() {
		return nil
	}
	opened, err := c.st.joinGroup(ctx, r)
	if err != nil {
		return err
	}
	if r.State != StateRunning {
		has, err := c.st.hasMessage(ctx, r)
		if err != nil {
			return fmt.Errorf("tasks: enqueue %s: %w", r.ID, err)
		}
		if !has {
			if _, err := c.st.publish(ctx, r, copyOf(r.encode()), rev); err != nil {
				return err
			}
		}
	}
	if !opened {
		return nil
	}
	// The task may have ended after it was read, and its worker closed
	// its place before it was opened here again: then it is closed again.
	cur, _, err := c.st.get(ctx, r.ID)
	if errors.Is(err, ErrTaskNotFound) || err == nil && (cur.State.terminal() || cur.Run != r.Run) {
		return c.st.closeGroup(ctx, r)
	}
	return err
}

// release undoes an Enqueue that could not finish: its record, so that
// the ID is free, and its group place.
func (c *Client) release(r record, rev uint64) {
	ctx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	if err := c.st.remove(ctx, r.ID, rev); err != nil {
		c.log.Warn("tasks: release a task not enqueued", "task", r.ID, "error", err)
		return
	}
	if err := c.st.closeGroup(ctx, r); err != nil {
		c.log.Warn("tasks: release a task not enqueued", "task", r.ID, "error", err)
	}
}

// Inspect returns task id as it is now.
func (c *Client) Inspect(ctx context.Context, id string) (*TaskInfo, error) {
	if !validName(id, MaxIDLen) {
		return nil, ErrTaskNotFound
	}
	r, _, err := c.st.get(ctx, id)
	if err != nil {
		return nil, err
	}
	return r.info(c.cfg.Clock()), nil
}

// Result returns task id once it is done, with its result; a
// *FailedError if it was archived; ErrNotDone if it is still to finish.
func (c *Client) Result(ctx context.Context, id string) (*TaskInfo, error) {
	ti, err := c.Inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	return ti, outcome(ti)
}

func outcome(ti *TaskInfo) error {
	switch ti.State {
	case StateDone:
		return nil
	case StateArchived:
		return &FailedError{ID: ti.ID, LastError: ti.LastError}
	}
	return ErrNotDone
}

// Wait blocks until task id is done or archived, and returns it as Result
// would; it watches the task's record, so it learns of the end as soon as
// the broker stores it. A task deleted, or forgotten after its retention,
// is ErrTaskNotFound.
func (c *Client) Wait(ctx context.Context, id string) (*TaskInfo, error) {
	if !validName(id, MaxIDLen) {
		return nil, ErrTaskNotFound
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := c.st.tasks.Watch(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("tasks: watch %s: %w", id, err)
	}
	defer w.Stop()
	seen := false
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok = <-w.Updates():
		}
		if !ok {
			return nil, fmt.Errorf("tasks: watch %s: stopped", id)
		}
		if e == nil { // the initial value, if any, has come
			if seen {
				continue
			}
			// The marker can come before a value written as the watch
			// began: the record, read, decides.
			r, _, err := c.st.get(ctx, id)
			if err != nil {
				return nil, err
			}
			seen = true
			if ti := r.info(c.cfg.Clock()); ti.State.terminal() {
				return ti, outcome(ti)
			}
			continue
		}
		seen = true
		if e.Operation() != jetstream.KeyValuePut {
			return nil, ErrTaskNotFound
		}
		r, err := decodeRecord(e.Value())
		if err != nil {
			return nil, err
		}
		if ti := r.info(c.cfg.Clock()); ti.State.terminal() {
			return ti, outcome(ti)
		}
	}
}
