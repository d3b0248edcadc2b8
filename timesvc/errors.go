package timesvc

import "errors"

var (
	// ErrInvalidConfig wraps every configuration error; the message names
	// the field.
	ErrInvalidConfig = errors.New("timesvc: invalid config")
	// ErrBadSample means a sample's timestamps cannot all be true: a clock
	// ran backwards, or the server claims it spent longer on the request
	// than the whole round trip took. Such a sample proves nothing about
	// the offset, so it is rejected rather than clamped.
	ErrBadSample = errors.New("timesvc: impossible timestamps")
	// ErrNoSamples means an estimate was asked of no samples.
	ErrNoSamples = errors.New("timesvc: no samples")
)
