package broker

import "errors"

var (
	// ErrInvalidConfig wraps every Config validation error.
	ErrInvalidConfig = errors.New("broker: invalid config")
	// ErrNotReady means the server did not accept connections, or
	// JetStream did not answer, within the start timeout.
	ErrNotReady = errors.New("broker: not ready")
)
