package mr

import (
	"cmp"
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Defaults of the JetStream resources.
const (
	// DefaultLease is how long a task stays with a worker that stops
	// heartbeating before JetStream hands it to another; workers heartbeat
	// every third of it.
	DefaultLease = 30 * time.Second
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

// Ensure creates the streams, consumers, buckets and object store the
// protocol needs, or opens them where they exist: masters and workers all
// call it, in any order, as often as they start.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg StoreConfig) (*Store, error) {
	replicas := cmp.Or(cfg.Replicas, 1)
	s := &Store{JS: js, Lease: cmp.Or(cfg.Lease, DefaultLease)}
	var err error
	if s.Tasks, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamTasks,
		Description: "Drover task work queue",
		Subjects:    []string{TaskSubjects()},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     cfg.Storage,
		Replicas:    replicas,
	}); err != nil {
		return nil, fmt.Errorf("mr: stream %s: %w", StreamTasks, err)
	}
	if s.Workers, err = s.Tasks.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
		Durable:       ConsumerWorkers,
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       s.Lease,
		MaxAckPending: -1,
	}); err != nil {
		return nil, fmt.Errorf("mr: consumer %s: %w", ConsumerWorkers, err)
	}
	if s.Events, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        StreamEvents,
		Description: "Drover task events",
		Subjects:    []string{EventSubjects()},
		MaxAge:      DefaultEventsMaxAge,
		Storage:     cfg.Storage,
		Replicas:    replicas,
	}); err != nil {
		return nil, fmt.Errorf("mr: stream %s: %w", StreamEvents, err)
	}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&s.Jobs, BucketJobs}, {&s.Commits, BucketCommits}, {&s.Lineage, BucketLineage}} {
		if *b.kv, err = js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: b.name, Storage: cfg.Storage, Replicas: replicas,
		}); err != nil {
			return nil, fmt.Errorf("mr: bucket %s: %w", b.name, err)
		}
	}
	if s.Data, err = js.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{
		Bucket: ObjectStoreData, Storage: cfg.Storage, Replicas: replicas,
	}); err != nil {
		return nil, fmt.Errorf("mr: object store %s: %w", ObjectStoreData, err)
	}
	return s, nil
}
