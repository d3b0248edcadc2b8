package mr

import (
	"errors"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Error codes of JetStream's API that mean "not now" rather than "no":
// the cluster is electing a leader, or its peers are not all up yet.
const (
	codeUnavailable = 10008 // JetStream system temporarily unavailable
	codeNoPeers     = 10005 // no suitable peers for placement
)

// codeNotClustered is JetStream's answer to more than one replica on a
// server outside any cluster: "no" for as long as it runs so.
const codeNotClustered = 10074

// Transient reports whether err is the bus's and not the caller's: NATS or
// JetStream out of reach for a moment, as during a leader election or a
// broker restart. What fails so is worth trying again as it is: a task
// attempt is handed back without a failure counted against it, a master
// stands by and leads again, a daemon starting up waits.
//
// A context's own deadline is not transient: it is the caller's bound.
func Transient(err error) bool {
	for _, bus := range []error{
		nats.ErrNoResponders, nats.ErrTimeout, nats.ErrConnectionClosed, nats.ErrDisconnected,
		nats.ErrConnectionReconnecting, jetstream.ErrNoStreamResponse, jetstream.ErrNoHeartbeat,
	} {
		if errors.Is(err, bus) {
			return true
		}
	}
	var api *jetstream.APIError
	if errors.As(err, &api) && (api.ErrorCode == codeUnavailable || api.ErrorCode == codeNoPeers) {
		return true
	}
	// A direct get (a KV or object read) answered 503 comes back from
	// nats.go as a plain error, with the server's description for text.
	for e := err; e != nil; e = errors.Unwrap(e) {
		if e.Error() == directGetUnavailable {
			return true
		}
	}
	return false
}

// directGetUnavailable is the text of nats.go's error for a direct get
// that JetStream answered 503: a replica electing, or catching up, after a
// partition say.
const directGetUnavailable = "nats: JetStream system temporarily unavailable"
