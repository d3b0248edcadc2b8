package mr

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
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
	// DefaultProgressMaxAge is how long a task's last progress report is
	// kept: a running attempt reports every ProgressEvery, so only the
	// report of a task that stopped reporting long ago goes.
	DefaultProgressMaxAge = time.Hour
)

// Role is what a process may do to the protocol's JetStream resources as
// it opens them.
type Role int

const (
	// RoleAny, the zero Role, creates what is missing and changes nothing
	// that exists: the first process to reach a fresh broker fixes the
	// lease and the replication. Masters should open with RoleMaster, and
	// every other process bind (Bind, Await), so that only the master's
	// settings count.
	RoleAny Role = iota
	// RoleMaster creates what is missing, and creates the workers' task
	// consumer or updates it to the config's Lease: the master's lease
	// holds, whoever reached the broker first.
	RoleMaster
	// RoleBind creates and updates nothing: it opens what a master made,
	// and a resource that is missing is an error wrapping
	// ErrNoDeployment. The config's Replicas, Lease and Storage are not
	// used.
	RoleBind
)

// StoreConfig describes the JetStream resources of the protocol. Zero
// fields take their defaults.
type StoreConfig struct {
	// Role says what may be created or changed (default RoleAny).
	Role Role
	// Replicas of every stream and bucket: 1 on one server, 3 on a cluster.
	Replicas int
	// Lease is the task consumers' AckWait (default DefaultLease).
	Lease time.Duration
	// Storage is where they live (default jetstream.FileStorage).
	Storage jetstream.StorageType
	// Logger hears what RoleMaster changes of what exists (default
	// slog.Default).
	Logger *slog.Logger
}

// Store is the protocol's JetStream resources.
type Store struct {
	JS      jetstream.JetStream
	Tasks   jetstream.Stream
	Workers jetstream.Consumer // the consumer of Tasks every worker pulls from
	// ExecWorkers is the consumer of the tasks that run commands, which
	// only workers allowed to run them pull from.
	ExecWorkers jetstream.Consumer
	Events      jetstream.Stream
	Progress    jetstream.Stream
	Jobs        jetstream.KeyValue
	Commits     jetstream.KeyValue
	Lineage     jetstream.KeyValue
	Data        jetstream.ObjectStore // map and job outputs
	Inputs      jetstream.ObjectStore // uploaded inputs
	// Registry is the worker registry (BucketWorkers): each live
	// worker's WorkerInfo, gone WorkerTTL after its last report.
	Registry jetstream.KeyValue
	Lease    time.Duration // the workers' consumers' AckWait, as it is
}

// Open is Ensure on a connection.
func Open(ctx context.Context, nc *nats.Conn, cfg StoreConfig) (*Store, error) {
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(asyncPublishTimeout))
	if err != nil {
		return nil, fmt.Errorf("mr: %w", err)
	}
	return Ensure(ctx, js, cfg)
}

// asyncPublishTimeout ends the wait for the acknowledgement of an
// asynchronous publication (events, a run of tasks) with an error, so that
// one lost to a broker restart is not waited for, nor kept, for ever.
const asyncPublishTimeout = 10 * time.Second

// Bind opens the resources a master made on nc, creating and changing
// nothing (RoleBind): for workers and clients, which need no right to
// create streams. With no master ever run there, its error says so:
// "no Drover deployment on this NATS: stream DROVER_TASKS not found;
// start a master first".
func Bind(ctx context.Context, nc *nats.Conn) (*Store, error) {
	return Open(ctx, nc, StoreConfig{Role: RoleBind})
}

// DefaultAwaitPoll is how often Await and OpenWait try again.
const DefaultAwaitPoll = time.Second

// openTryTimeout bounds one try of OpenWait.
const openTryTimeout = 15 * time.Second

// placementWait is how long OpenWait lets a cluster that cannot place the
// replicas asked for come up before it judges it too small.
var placementWait = 30 * time.Second

// Await is Bind for a daemon that may start before any master, or while
// its cluster elects leaders: while there is no deployment
// (ErrNoDeployment) or JetStream does not answer for a moment (see
// Transient), it tries again every poll (default DefaultAwaitPoll) until
// there is one or ctx ends. waiting, if not nil, is called once, with the
// first such error, so that the caller can say what it waits for. Any
// other error ends it.
func Await(ctx context.Context, nc *nats.Conn, poll time.Duration, waiting func(error)) (*Store, error) {
	return OpenWait(ctx, nc, StoreConfig{Role: RoleBind}, poll, waiting)
}

// OpenWait is Open for a process that starts beside its cluster: while
// JetStream does not answer for a moment, or a cluster's peers are not
// all up to place the replicas asked for, it tries again every poll
// (default DefaultAwaitPoll), as Await does; with RoleBind it waits for a
// deployment too. A cluster that stays too small for cfg.Replicas, or a
// server outside any cluster asked for more than one, is an error
// wrapping ErrReplicas.
func OpenWait(ctx context.Context, nc *nats.Conn, cfg StoreConfig, poll time.Duration, waiting func(error)) (*Store, error) {
	poll = cmp.Or(poll, DefaultAwaitPoll)
	start := time.Now()
	for {
		// Each try is bounded: a JetStream request lost to a leader
		// election gets no answer at all, and must not hold the start
		// for as long as ctx lasts.
		tryCtx, cancel := context.WithTimeout(ctx, openTryTimeout)
		s, err := Open(tryCtx, nc, cfg)
		cancel()
		if err == nil {
			return s, nil
		}
		if err := replicasError(err, cfg.Replicas, nc, time.Since(start)); err != nil {
			return nil, err
		}
		if !(cfg.Role == RoleBind && errors.Is(err, ErrNoDeployment)) && !Retryable(ctx, err) {
			return nil, err
		}
		if waiting != nil {
			waiting(err)
			waiting = nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%w (waited until %w)", err, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Ensure opens the streams, consumer, buckets and object store of the
// protocol as cfg.Role allows: creating with cfg those that are missing
// (RoleAny, RoleMaster), or binding to them only (RoleBind). Masters,
// workers and clients call it in any order, as often as they start. What
// exists is used as it is, but for the workers' consumer under
// RoleMaster, which takes the master's lease: a worker or a client with
// other defaults cannot change a running deployment.
func Ensure(ctx context.Context, js jetstream.JetStream, cfg StoreConfig) (*Store, error) {
	replicas := cmp.Or(cfg.Replicas, 1)
	bind := cfg.Role == RoleBind
	s := &Store{JS: js}
	var err error
	if s.Tasks, err = ensure(bind, "stream", StreamTasks,
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
	// The workers' consumer first: one made before it had a filter
	// takes every subject, which no other consumer of a work queue may
	// share until it is narrowed.
	for _, c := range []struct {
		consumer *jetstream.Consumer
		name     string
	}{{&s.Workers, ConsumerWorkers}, {&s.ExecWorkers, ConsumerExecWorkers}} {
		if *c.consumer, err = ensureConsumer(ctx, s.Tasks, cfg, c.name); err != nil {
			return nil, err
		}
	}
	s.Lease = s.Workers.CachedInfo().Config.AckWait
	if s.Events, err = ensure(bind, "stream", StreamEvents,
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
	if s.Progress, err = ensure(bind, "stream", StreamProgress,
		func() (jetstream.Stream, error) { return js.Stream(ctx, StreamProgress) },
		func() (jetstream.Stream, error) {
			return js.CreateStream(ctx, jetstream.StreamConfig{
				Name:              StreamProgress,
				Description:       "Drover task progress, the last report of each task",
				Subjects:          []string{ProgressSubjects()},
				MaxMsgsPerSubject: 1,
				MaxAge:            DefaultProgressMaxAge,
				Storage:           cfg.Storage,
				Replicas:          replicas,
			})
		}); err != nil {
		return nil, err
	}
	for _, b := range []struct {
		kv   *jetstream.KeyValue
		name string
	}{{&s.Jobs, BucketJobs}, {&s.Commits, BucketCommits}, {&s.Lineage, BucketLineage}} {
		if *b.kv, err = ensure(bind, "key-value bucket", b.name,
			func() (jetstream.KeyValue, error) { return js.KeyValue(ctx, b.name) },
			func() (jetstream.KeyValue, error) {
				return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b.name, Storage: cfg.Storage, Replicas: replicas})
			}); err != nil {
			return nil, err
		}
	}
	for _, o := range []struct {
		store *jetstream.ObjectStore
		name  string
	}{{&s.Data, ObjectStoreData}, {&s.Inputs, ObjectStoreInputs}} {
		if *o.store, err = ensure(bind, "object store", o.name,
			func() (jetstream.ObjectStore, error) { return js.ObjectStore(ctx, o.name) },
			func() (jetstream.ObjectStore, error) {
				return js.CreateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: o.name, Storage: cfg.Storage, Replicas: replicas})
			}); err != nil {
			return nil, err
		}
	}
	if s.Registry, err = ensure(bind, "key-value bucket", BucketWorkers,
		func() (jetstream.KeyValue, error) { return js.KeyValue(ctx, BucketWorkers) },
		func() (jetstream.KeyValue, error) {
			// One value a worker, which lives WorkerTTL past its last
			// put: the bucket's age limit is what makes a dead
			// worker's entry vanish, with nobody to delete it.
			return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: BucketWorkers, Description: "Drover worker registry",
				History: 1, TTL: WorkerTTL, MaxValueSize: MaxWorkerInfoBytes, Storage: cfg.Storage, Replicas: replicas})
		}); err != nil {
		return nil, err
	}
	if cfg.Role == RoleMaster {
		if err := rescale(ctx, js, replicas, cmp.Or(cfg.Logger, slog.Default())); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// ensureConsumer opens the task consumer name, one of TaskConsumers, as
// cfg.Role allows: RoleMaster creates it or updates it to cfg's lease.
func ensureConsumer(ctx context.Context, tasks jetstream.Stream, cfg StoreConfig, name string) (jetstream.Consumer, error) {
	want := jetstream.ConsumerConfig{
		Durable:       name,
		FilterSubject: consumerFilter(name),
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckWait:       cmp.Or(cfg.Lease, DefaultLease),
		MaxAckPending: -1,
	}
	if cfg.Role == RoleMaster {
		c, err := tasks.CreateOrUpdateConsumer(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("mr: consumer %s: %w", name, err)
		}
		return c, nil
	}
	return ensure(cfg.Role == RoleBind, "consumer", name,
		func() (jetstream.Consumer, error) { return tasks.Consumer(ctx, name) },
		func() (jetstream.Consumer, error) { return tasks.CreateConsumer(ctx, want) })
}

// rescale gives every backing stream the replicas asked for: resources
// made with one replication and used later on a cluster of another size
// (a deployment grown from one server to three, say) take the master's,
// and the log says what changed.
func rescale(ctx context.Context, js jetstream.JetStream, replicas int, log *slog.Logger) error {
	for _, name := range BackingStreams() {
		stream, err := js.Stream(ctx, name)
		if err != nil {
			return fmt.Errorf("mr: stream %s: %w", name, err)
		}
		cfg := stream.CachedInfo().Config
		if cfg.Replicas == replicas {
			continue
		}
		was := cfg.Replicas
		cfg.Replicas = replicas
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("mr: stream %s from %d replicas to %d: %w", name, was, replicas, err)
		}
		log.Warn("mr: stream replicated anew, as asked", "stream", name, "replicas", replicas, "was", was)
	}
	return nil
}

// ensure opens a resource, or, unless binding only, creates it if it is
// missing; if another process created it meanwhile, it opens that one.
func ensure[T any](bind bool, kind, name string, open, create func() (T, error)) (T, error) {
	v, err := open()
	if err == nil {
		return v, nil
	}
	if bind {
		if notFound(err) {
			return v, fmt.Errorf("%w: %s %s not found; start a master first", ErrNoDeployment, kind, name)
		}
		return v, fmt.Errorf("mr: %s %s: %w", kind, name, err)
	}
	if v, err = create(); err == nil {
		return v, nil
	}
	if v, oerr := open(); oerr == nil {
		return v, nil
	}
	return v, fmt.Errorf("mr: %s: %w", name, err)
}

// notFound reports whether err says a resource does not exist.
func notFound(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrConsumerNotFound) ||
		errors.Is(err, jetstream.ErrBucketNotFound)
}

// Retryable reports whether err, of a JetStream call made under ctx, may
// pass if the call is made again: the bus's (Transient), or a time-out of
// the call's own while ctx goes on.
func Retryable(ctx context.Context, err error) bool {
	return err != nil && ctx.Err() == nil && (Transient(err) || errors.Is(err, context.DeadlineExceeded))
}

// replicasError is err said plainly when it is the cluster refusing the
// replicas asked for, for good: a server outside any cluster refuses more
// than one at once; a cluster with fewer servers than replicas refuses
// them as long as it has not grown within placementWait. Otherwise nil.
func replicasError(err error, replicas int, nc *nats.Conn, waited time.Duration) error {
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return nil
	}
	switch {
	case api.ErrorCode == codeNotClustered:
		return fmt.Errorf("%w: %d asked, but the server at %s is not part of a cluster: ask for 1", ErrReplicas, replicas, nc.ConnectedUrlRedacted())
	case api.ErrorCode == codeNoPeers && waited >= placementWait && replicas > len(nc.Servers()):
		return fmt.Errorf("%w: %d asked, but cluster %s has %d servers", ErrReplicas, replicas, nc.ConnectedClusterName(), len(nc.Servers()))
	}
	return nil
}
