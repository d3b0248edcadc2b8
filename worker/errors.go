package worker

import "errors"

// ErrInvalidConfig wraps every Config validation error; the message names
// the field.
var ErrInvalidConfig = errors.New("worker: invalid config")
