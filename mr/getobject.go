package mr

import (
	"context"
	"errors"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ConsumerWait bounds how long GetObject waits for a consumer of an
// object store's stream to be free.
const ConsumerWait = 30 * time.Second

// StaleReadWait bounds how long GetObject tries again while an object is
// not found. Object reads are direct gets, which any replica of the
// stream may answer: one that rejoined its cluster after a partition
// answers before it has caught up, "not found" of an object stored long
// before. Only once it stays not found is the object lost.
const StaleReadWait = 10 * time.Second

// GetObject opens an object to read that a commit or a job names, and so
// was stored. A stream at its limit of consumers is busy, not a sign of
// a lost object: the read waits, backing off, for another reader to
// finish, up to ConsumerWait. An object not found, and not known to be
// removed, is tried again, backing off, for up to StaleReadWait, as a
// replica behind its peers may say so; one whose removal the store
// records is not found at once.
func GetObject(ctx context.Context, obs jetstream.ObjectStore, name string) (jetstream.ObjectResult, error) {
	backoff := 50 * time.Millisecond
	start := time.Now()
	for {
		obj, err := obs.Get(ctx, name)
		wait := ConsumerWait
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			if removed(ctx, obs, name) {
				return obj, err
			}
			wait = StaleReadWait
		} else if err == nil || !consumerLimit(err) {
			return obj, err
		}
		if time.Since(start)+backoff > wait {
			return obj, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// removed reports whether the object store holds the object's removal:
// a replica behind its peers may not know of the object at all, but one
// that knows it was removed is not wrong.
func removed(ctx context.Context, obs jetstream.ObjectStore, name string) bool {
	info, err := obs.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	return err == nil && info.Deleted
}

// codeConsumerLimit is JetStream's answer to a consumer past the
// stream's limit of consumers.
const codeConsumerLimit = 10026

// consumerLimit reports whether err says a stream has as many consumers
// as it allows, from either of nats.go's JetStream APIs.
func consumerLimit(err error) bool {
	if api := (*jetstream.APIError)(nil); errors.As(err, &api) && api.ErrorCode == codeConsumerLimit {
		return true
	}
	api := (*nats.APIError)(nil)
	return errors.As(err, &api) && api.ErrorCode == codeConsumerLimit
}
