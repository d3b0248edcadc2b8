package mr

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the JetStream resources.
const (
	// DefaultLease is how long a task stays with a worker that stops
	// heartbeating before JetStream hands it to another; workers heartbeat
	// every third of it.
	DefaultLease = 30 * time.Second
	// ProgressEvery is how often a running attempt reports its progress,
	// or every third of the lease if that is sooner: the master judges
	// stragglers by it, in tasks of a few seconds too.
	ProgressEvery = 250 * time.Millisecond
	// DefaultEventsMaxAge is how long task events are kept.
	DefaultEventsMaxAge = 24 * time.Hour
)

// StoreConfig describes the JetStream resources of the protocol. Zero
// fields take their defaults.
type StoreConfig struct {
	// Replicas of every stream and bucket: 1 on one server, 3 on a cluster.
	Replicas int
	// Lease is the task consumers' AckWait (default DefaultLease).
	Lease time.Duration
	// Storage is where they live (default jetstream.FileStorage).
	Storage jetstream.StorageType
}

// Store is the protocol's JetStream resources.
type Store struct {
	JS      jetstream.JetStream
	Tasks   jetstream.Stream
	Workers jetstream.Consumer // the one consumer of Tasks every worker pulls from
	Events  jetstream.Stream
	Jobs    jetstream.KeyValue
	Commits jetstream.KeyValue
	Lineage jetstream.KeyValue
	Data    jetstream.ObjectStore
	Lease   time.Duration
}

// Open is Ensure on a connection.
func Open(ctx context.Context, nc *nats.Conn, cfg StoreConfig) (*Store, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("mr: %w", err)
	}
	return Ensure(ctx, js, cfg)
}

// Ensure opens the streams, consumer, buckets and object store of the
// protocol, creating with cfg those that are missing: masters, workers and
// clients all call it, in any order, as often as they start. What exists
// is used as it is: replication and the lease are fixed when a resource is
// made (by whoever comes first; make the master come first on a cluster),
// so that a worker with other defaults cannot change them under a running
// deployment.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg StoreConfig) (*Store, error) {
	replicas := cmp.Or(cfg.Replicas, 1)
	s := &Store{JS: js}
	var err error
	if s.Tasks, err = openOrCreate(ctx, StreamTasks,
		func() (jetstream.Stream, error) { return js.Stream(ctx, StreamTasks) },
		func() (jetstream.Stream, error) {
			return js.CreateStream(ctx, jetstream.StreamConfig{
				Name:        StreamTasks,
				Description: "Drover task work queue",
				Subjects:    []string{TaskSubjects()},
				Retention:   jetstream.WorkQueuePolicy,
				Storage:     cfg.Storage,
				Replicas:    replicas,
			})
		}); err != nil {
		return nil, err
	}
	if s.Workers, err = openOrCreate(ctx, ConsumerWorkers,
		func() (jetstream.Consumer, error) { return s.Tasks.Consumer(ctx, ConsumerWorkers) },
		func() (jetstream.Consumer, error) {
			return s.Tasks.CreateConsumer(ctx, jetstream.ConsumerConfig{
				Durable:       ConsumerWorkers,
				AckPolicy:     jetstream.AckExplicitPolicy,
				DeliverPolicy: jetstream.DeliverAllPolicy,
				AckWait:       cmp.Or(cfg.Lease, DefaultLease),
				MaxAckPending: -1,
			})
		}); err != nil {
		return nil, err
	}
	s.Lease = s.Workers.CachedInfo().Config.AckWait
	if s.Events, err = openOrCreate(ctx, StreamEvents,
		func() (jetstream.Stream, error) { return js.Stream(ctx, StreamEvents) },
		func() (jetstream.Stream, error) {
			return js.CreateStream(ctx, jetstream.StreamConfig{
				Name:        StreamEvents,
				Description: "Drover task events",
				Subjects:    []string{EventSubjects()},
				MaxAge:      DefaultEventsMaxAge,
				Storage:     cfg.Storage,
				Replicas:    replicas,
			})
		}); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&s.Jobs, BucketJobs}, {&s.Commits, BucketCommits}, {&s.Lineage, BucketLineage}} {
		if *b.kv, err = openOrCreate(ctx, b.name,
			func() (jetstream.KeyValue, error) { return js.KeyValue(ctx, b.name) },
			func() (jetstream.KeyValue, error) {
				return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b.name, Storage: cfg.Storage, Replicas: replicas})
			}); err != nil {
			return nil, err
		}
	}
	if s.Data, err = openOrCreate(ctx, ObjectStoreData,
		func() (jetstream.ObjectStore, error) { return js.ObjectStore(ctx, ObjectStoreData) },
		func() (jetstream.ObjectStore, error) {
			return js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: ObjectStoreData, Storage: cfg.Storage, Replicas: replicas})
		}); err != nil {
		return nil, err
	}
	return s, nil
}

// openOrCreate opens a resource, or creates it if it is missing; if
// another process created it meanwhile, it opens that one.
func openOrCreate[T any](ctx context.Context, name string, open, create func() (T, error)) (T, error) {
	v, err := open()
	if err == nil {
		return v, nil
	}
	if v, err = create(); err == nil {
		return v, nil
	}
	if v, oerr := open(); oerr == nil {
		return v, nil
	}
	return v, fmt.Errorf("mr: %s: %w", name, err)
}
