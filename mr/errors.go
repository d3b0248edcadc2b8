package mr

import "errors"

var (
	// ErrUnknownApp means a job names an app nobody registered.
	ErrUnknownApp = errors.New("mr: unknown app")
	// ErrInvalidSpec wraps every job spec validation error.
	ErrInvalidSpec = errors.New("mr: invalid job spec")
	// ErrCorrupt means intermediate data failed to decode.
	ErrCorrupt = errors.New("mr: corrupt intermediate data")
)
