package master

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
)

// Pull settings of the streams the master follows: short pulls, and a
// heartbeat that a pull misses after two seconds, so that after a broker
// restart, or the death of the cluster node that served the consumer, the
// ordered consumer is found gone and made again within seconds. A key
// watch's push consumer, with its 5 s heartbeats, took 11 to 16 s.
const (
	followExpiry    = 5 * time.Second
	followHeartbeat = time.Second
)

// follow consumes stream from where cfg says, in order, handing each
// message to fn on the consumer's goroutine, until stop is called.
func (m *Master) follow(ctx context.Context, stream string, cfg jetstream.OrderedConsumerConfig, fn func(jetstream.Msg)) (stop func(), err error) {
	cons, err := m.store.JS.OrderedConsumer(ctx, stream, cfg)
	if err != nil {
		return nil, fmt.Errorf("master: follow %s: %w", stream, err)
	}
	consuming, err := cons.Consume(fn, jetstream.PullExpiry(followExpiry), jetstream.PullHeartbeat(followHeartbeat),
		jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
			m.log.Warn("master: following a stream", "stream", stream, "error", err) // the consumer is made again by itself
		}))
	if err != nil {
		return nil, fmt.Errorf("master: follow %s: %w", stream, err)
	}
	return consuming.Stop, nil
}

// followCommits hands every commit record to onCommit: the last of each
// key the bucket holds, then each new one. caughtUp is closed once every
// record stored when it began is handed over.
func (m *Master) followCommits(ctx context.Context) (caughtUp <-chan struct{}, stop func(), err error) {
	status, err := m.store.Commits.Status(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("master: commits: %w", err)
	}
	done := make(chan struct{})
	var once sync.Once
	caught := func() { once.Do(func() { close(done) }) }
	if status.Values() == 0 {
		caught()
	}
	stop, err = m.follow(ctx, mr.BucketStream(mr.BucketCommits), jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{mr.BucketSubjects(mr.BucketCommits)},
		DeliverPolicy:  jetstream.DeliverLastPerSubjectPolicy,
	}, func(msg jetstream.Msg) {
		if msg.Headers().Get(kvOperation) == "" { // a put, not a delete or a purge
			m.onCommit(msg.Data())
		}
		if meta, err := msg.Metadata(); err == nil && meta.NumPending == 0 {
			caught()
		}
	})
	return done, stop, err
}

// kvOperation is the header that marks a key-value delete or purge.
const kvOperation = "KV-Operation"
