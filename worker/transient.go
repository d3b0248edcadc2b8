package worker

import (
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// errJetStreamUnavailable matches the API error JetStream answers while a
// stream or the cluster has no leader (10008).
var errJetStreamUnavailable = &jetstream.APIError{ErrorCode: 10008}

// transient reports whether err is the bus's and not the task's: NATS or
// JetStream out of reach for a moment, as during a leader election or a
// broker restart. An attempt that fails so is handed back to run again,
// without a failure counted against its task.
func transient(err error) bool {
	for _, bus := range []error{
		nats.ErrNoResponders, nats.ErrTimeout, nats.ErrConnectionClosed, nats.ErrDisconnected,
		nats.ErrConnectionReconnecting, jetstream.ErrNoStreamResponse, errJetStreamUnavailable,
	} {
		if errors.Is(err, bus) {
			return true
		}
	}
	return false
}
