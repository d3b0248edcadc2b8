package tasks

import (
	"fmt"
	"time"
)

// Option sets one of a task's options at Enqueue.
type Option func(*options)

type options struct {
	id        string
	queue     string
	group     string
	maxRetry  int
	timeout   time.Duration
	deadline  time.Time
	processAt time.Time
	processIn time.Duration
	retention time.Duration
}

// TaskID names the task, making it unique: while a task with this ID is
// pending, scheduled, running, retrying, archived or retained after its
// end, enqueuing the same ID again enqueues nothing and returns that task
// (TaskInfo.Duplicate). Without it, Enqueue draws a random ID. An ID is
// 1 to MaxIDLen letters, digits, '-', '_' or '='.
func TaskID(id string) Option { return func(o *options) { o.id = id } }

// Queue puts the task in queue (default DefaultQueue); the name follows
// the rules of TaskID with at most MaxQueueLen bytes.
func Queue(name string) Option { return func(o *options) { o.queue = name } }

// Group makes the task a member of group, named as a queue is: the group
// is done when none of its tasks is pending, scheduled, running or
// retrying (see Client.WaitGroup). A running task may enqueue more tasks
// into its own group.
func Group(name string) Option { return func(o *options) { o.group = name } }

// MaxRetry is how many times a failed attempt is tried again (default
// DefaultMaxRetry; 0 for none), up to MaxMaxRetry.
func MaxRetry(n int) Option { return func(o *options) { o.maxRetry = n } }

// Timeout bounds each attempt (default DefaultTimeout): the handler's
// context ends after it, and the attempt fails.
func Timeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Deadline bounds the task as a whole: no attempt runs past it, and a task
// not done by then is archived with ErrDeadline instead of retried.
func Deadline(t time.Time) Option { return func(o *options) { o.deadline = t } }

// ProcessAt schedules the task: no attempt starts before t.
func ProcessAt(t time.Time) Option { return func(o *options) { o.processAt = t } }

// ProcessIn delays the task: no attempt starts before d from Enqueue.
func ProcessIn(d time.Duration) Option { return func(o *options) { o.processIn = d } }

// Retention keeps a done task, with its result, for d after it ends
// (default 0: it is kept for the least time JetStream can expire a key
// after, a second, so that Wait sees the end). Its ID stays taken for as
// long.
func Retention(d time.Duration) Option { return func(o *options) { o.retention = d } }

// newRecord builds the record of a new task from t and opts, at now.
func newRecord(t *Task, opts []Option, now time.Time, archiveFor time.Duration, newID func() string) (record, error) {
	o := options{maxRetry: DefaultMaxRetry, queue: DefaultQueue}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case t == nil:
		return record{}, fmt.Errorf("%w: nil task", ErrInvalidTask)
	case o.processIn < 0:
		return record{}, fmt.Errorf("%w: ProcessIn %v is negative", ErrInvalidTask, o.processIn)
	case o.timeout < 0:
		return record{}, fmt.Errorf("%w: Timeout %v is negative", ErrInvalidTask, o.timeout)
	}
	if o.id == "" {
		o.id = newID()
	}
	r := record{
		ID: o.id, Type: t.Type, Queue: o.queue, Group: o.group,
		Payload: t.Payload, ContentType: t.ContentType,
		State: StatePending, Run: newID(),
		MaxRetry: o.maxRetry, Timeout: int64(o.timeout), Retention: int64(o.retention), ArchiveFor: int64(archiveFor),
		EnqueuedAt: now.UnixNano(),
	}
	if r.Timeout == 0 {
		r.Timeout = int64(DefaultTimeout)
	}
	if !o.deadline.IsZero() {
		r.Deadline = o.deadline.UnixNano()
	}
	at := o.processAt
	if o.processIn > 0 {
		at = now.Add(o.processIn)
	}
	if at.After(now) {
		r.State, r.ProcessAt = StateScheduled, at.UnixNano()
	}
	return r, r.validate()
}
