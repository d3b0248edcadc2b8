package worker

import "errors"

// ErrInvalidConfig wraps every Config validation error; the message names
// the field.
var ErrInvalidConfig = errors.New("worker: invalid config")

// Why an attempt stopped before its end, as its log says.
var (
	errBeaten    = errors.New("another attempt of the task committed first")
	errWithdrawn = errors.New("the task left the queue: its job ended or was cancelled")
)
