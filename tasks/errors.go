package tasks

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidConfig wraps every Config validation error; the message
	// names the field.
	ErrInvalidConfig = errors.New("tasks: invalid config")
	// ErrInvalidTask wraps every error of a task or option that cannot be
	// enqueued, and of a record read from the bus that breaks the limits.
	ErrInvalidTask = errors.New("tasks: invalid task")
	// ErrTaskNotFound means no task has that ID: it was never enqueued,
	// or it was deleted, or its retention ended.
	ErrTaskNotFound = errors.New("tasks: task not found")
	// ErrScheduleNotFound means no schedule has that name.
	ErrScheduleNotFound = errors.New("tasks: schedule not found")
	// ErrNotDone means a task has no result yet: it has not finished.
	ErrNotDone = errors.New("tasks: task not done")
	// ErrWrongState means an operation does not apply to the task's state,
	// such as re-running a task that is not archived.
	ErrWrongState = errors.New("tasks: task in the wrong state")
	// ErrSkipRetry, returned by a handler (wrapped or not), archives its
	// task at once: a permanent failure that no retry would fix.
	ErrSkipRetry = errors.New("tasks: skip retry")
	// ErrCancelled is the last error of a task archived by Cancel.
	ErrCancelled = errors.New("tasks: cancelled")
	// ErrDeadline is the last error of a task archived because its
	// deadline passed.
	ErrDeadline = errors.New("tasks: deadline exceeded")
	// ErrLeaseExpired is the error counted against an attempt whose worker
	// stopped heartbeating: it died, or lost its connection.
	ErrLeaseExpired = errors.New("tasks: lease expired")
	// ErrNoHandler is the error of an attempt of a type no handler of the
	// server that took it is registered for.
	ErrNoHandler = errors.New("tasks: no handler for the task's type")
)

// SkipRetry wraps err so that its task is archived at once, without the
// retries it has left: for a failure that would fail again.
func SkipRetry(err error) error { return fmt.Errorf("%w: %w", ErrSkipRetry, err) }

// FailedError is what Wait and Result return for a task that was
// archived: it used up its retries, failed with SkipRetry, passed its
// deadline or was cancelled.
type FailedError struct {
	ID        string
	LastError string // the last attempt's error, as the worker reported it
}

func (e *FailedError) Error() string {
	return fmt.Sprintf("tasks: task %s archived: %s", e.ID, e.LastError)
}
