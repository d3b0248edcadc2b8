package rpcq

import (
	"github.com/prometheus/client_golang/prometheus"

	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
)

// Server defaults.
const (
	// DefaultConcurrency is how many calls a server runs at once.
	DefaultConcurrency = 4
	// DefaultVersion is the service version when none is given.
	DefaultVersion = "0.0.0"
	// DefaultTableWaits is how many calls may wait on a duplicate table
	// that waits on I/O at once.
	DefaultTableWaits = 128
)

// ServerConfig describes a service. Zero fields take their defaults.
type ServerConfig struct {
	// Name is the service name: its methods answer on rpcq.<Name>.<Method>
	// and `nats micro ls` lists it under this name. Required; letters,
	// digits, '-' and '_'.
	Name string
	// Version is the service's SemVer version (default DefaultVersion).
	Version string
	// Description is shown by `nats micro info`.
	Description string
	// Metadata is published with the service.
	Metadata map[string]string
	// Concurrency is how many calls run at once (default
	// DefaultConcurrency). Each is a micro service instance in the same
	// queue group, because a micro endpoint runs one request at a time.
	Concurrency int
	// Modes gives the delivery semantics of methods by name; a method not
	// listed is AtMostOnce.
	Modes map[string]Mode
	// Table is the duplicate table of AtMostOnce and ExactlyOnce methods
	// (default: a MemoryTable, which lasts as long as the process).
	Table Table
	// TableWaits is how many calls may wait at once on a KVTable, or
	// another Table that waits on I/O (default DefaultTableWaits). Such a
	// call leaves its endpoint's subscription while its claim and its
	// reply are written, so that the writes of many calls are under way
	// together, and the next request is taken meanwhile; its handler
	// still runs in one of the Concurrency slots. micro's stats time only
	// the hand-off of those calls and count none of them as errors; the
	// server's Metrics time and count them all.
	TableWaits int
	// ClientLease is how long the default table remembers an idle client
	// (default DefaultClientLease).
	ClientLease time.Duration
	// SeparateLargeReplies sends replies of 64 KiB or more on a connection
	// of their own, dialled as the service's was and closed after a second
	// idle: nats.go keeps a connection's write buffer as large as the
	// largest message it sent, so that one large reply would pin that
	// much memory for the server's life. The other connection has not
	// received the requests, so NATS's allow_responses does not let it
	// answer them: under permissions, its user needs the right to publish
	// to the callers' inboxes.
	SeparateLargeReplies bool
	// Logger receives handler panics and shutdown events (default slog.Default).
	Logger *slog.Logger
	// Metrics, if not nil, receives the server's Prometheus collectors:
	// drover_rpcq_calls_total, drover_rpcq_call_duration_seconds,
	// drover_rpcq_duplicates_total and drover_rpcq_table_entries. The
	// server serves no HTTP: the caller exposes the registry. Several
	// servers of distinct services may share one registry, and one of a
	// service after another of it has shut down.
	Metrics prometheus.Registerer
	// Callers serves each method at rpcq.<Name>.<Method>.<caller> as
	// well, where a handler learns the caller with CallerFrom (see
	// CallerSubject).
	Callers bool
}

func (c *ServerConfig) validate() error {
	if !validName(c.Name) {
		return fmt.Errorf("%w: Name %q: want letters, digits, '-' and '_'", ErrInvalidConfig, c.Name)
	}
	if c.ClientLease < 0 {
		return fmt.Errorf("%w: ClientLease %v is negative", ErrInvalidConfig, c.ClientLease)
	}
	if c.Concurrency < 0 {
		return fmt.Errorf("%w: Concurrency %d is negative", ErrInvalidConfig, c.Concurrency)
	}
	if c.TableWaits < 0 {
		return fmt.Errorf("%w: TableWaits %d is negative", ErrInvalidConfig, c.TableWaits)
	}
	for name, mode := range c.Modes {
		if mode < AtMostOnce || mode > ExactlyOnce {
			return fmt.Errorf("%w: Modes[%q]: %v", ErrInvalidConfig, name, mode)
		}
	}
	c.Version = cmp.Or(c.Version, DefaultVersion)
	c.Concurrency = cmp.Or(c.Concurrency, DefaultConcurrency)
	c.TableWaits = cmp.Or(c.TableWaits, DefaultTableWaits)
	c.Logger = cmp.Or(c.Logger, slog.Default())
	c.ClientLease = cmp.Or(c.ClientLease, DefaultClientLease)
	return nil
}

// Server serves the methods of one named service over NATS. Register
// methods, then Start; Shutdown stops it. Its methods are safe for
// concurrent use.
type Server struct {
	nc    *nats.Conn
	cfg   ServerConfig
	table Table

	mu       sync.Mutex // guards the fields up to gate
	methods  map[string]*method
	services []micro.Service
	subs     int   // subscriptions the services hold
	stopped  bool  // Shutdown has stopped the services
	drained  int   // the connection's subscription count once they are gone
	stopErr  error // what stopping them said

	gate     sync.RWMutex // orders "closing" against inflight.Add
	closing  bool
	inflight sync.WaitGroup

	started int64 // Unix nanoseconds; set by Start before any request arrives

	slots   chan struct{}    // one token per handler running, up to Concurrency
	overlap chan struct{}    // one per call waiting on an ioTable; nil for other tables
	waiting chan waitingCall // such a call, to an idle runner (see runWaiting)

	bulk *bulkConn // for large replies

	base       context.Context // parent of every handler context
	cancel     context.CancelFunc
	background sync.WaitGroup // the server's own goroutines, ended by cancel

	metrics *serverMetrics // nil without ServerConfig.Metrics
}

// NewServer returns a server for the service cfg describes on nc. The
// caller keeps ownership of nc and closes it after Shutdown.
func NewServer(nc *nats.Conn, cfg ServerConfig) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	table := cfg.Table
	if table == nil {
		table = NewMemoryTable(time.Now(), cfg.ClientLease)
	}
	base, cancel := context.WithCancel(context.Background())
	s := &Server{nc: nc, cfg: cfg, table: table, methods: map[string]*method{}, bulk: &bulkConn{src: nc}, base: base, cancel: cancel,
		slots: make(chan struct{}, cfg.Concurrency)}
	if _, ok := table.(ioTable); ok {
		s.overlap, s.waiting = make(chan struct{}, cfg.TableWaits), make(chan waitingCall)
	}
	if cfg.Metrics != nil {
		var err error
		if s.metrics, err = newServerMetrics(cfg.Metrics, s); err != nil {
			cancel()
			return nil, fmt.Errorf("rpcq: metrics: %w", err)
		}
	}
	return s, nil
}

// Register adds the exported methods of rcvr that have the shape
//
//	func (t *T) Method(ctx context.Context, args A, reply *R) error
//
// or net/rpc's func (t *T) Method(args A, reply *R) error. Exported methods
// of other shapes are ignored; a receiver with none of these shapes is an
// error. The handler's ctx carries the caller's deadline.
func (s *Server) Register(rcvr any) error {
	methods, skipped := methodsOf(rcvr)
	if len(methods) == 0 {
		return fmt.Errorf("rpcq: %T has no method of the form Method(ctx, args, *reply) error (skipped %v)", rcvr, skipped)
	}
	return s.add(methods...)
}

// HandleFunc adds a typed handler function as method name of s.
func HandleFunc[A, R any](s *Server, name string, fn func(ctx context.Context, args A) (R, error)) error {
	return s.add(&method{name: name, invoke: funcMethod(fn)})
}

func (s *Server) add(methods ...*method) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.services != nil {
		return ErrStarted
	}
	for _, m := range methods {
		if !validName(m.name) {
			return fmt.Errorf("rpcq: method name %q: want letters, digits, '-' and '_'", m.name)
		}
		if _, dup := s.methods[m.name]; dup {
			return fmt.Errorf("rpcq: method %s.%s registered twice", s.cfg.Name, m.name)
		}
	}
	for _, m := range methods {
		s.methods[m.name] = m
	}
	return nil
}

// Start subscribes the service's methods: Concurrency micro service
// instances, each with one endpoint per method, all in one queue group.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.services != nil || s.stopped {
		return ErrStarted
	}
	for name := range s.cfg.Modes {
		if s.methods[name] == nil {
			return fmt.Errorf("%w: Modes names %q, which is not a registered method", ErrInvalidConfig, name)
		}
	}
	if len(s.methods) == 0 {
		return fmt.Errorf("rpcq: service %s has no methods", s.cfg.Name)
	}
	for name, m := range s.methods {
		m.once, m.mode = s.cfg.Modes[name].once(), s.cfg.Modes[name]
	}
	s.started = time.Now().UnixNano() // before any request can arrive
	before := s.nc.NumSubscriptions()
	for range s.cfg.Concurrency {
		svc, err := s.addService()
		if err != nil {
			for _, svc := range s.services {
				svc.Stop()
			}
			s.services = nil
			return err
		}
		s.services = append(s.services, svc)
	}
	s.subs = s.nc.NumSubscriptions() - before
	if t, ok := s.table.(expirer); ok {
		s.background.Go(func() { s.expireClients(t) })
	}
	// Make sure the server knows our interest before anyone is told we serve.
	return s.nc.Flush()
}

func (s *Server) addService() (micro.Service, error) {
	names := slices.Sorted(maps.Keys(s.methods))
	metadata := maps.Clone(s.cfg.Metadata)
	if metadata == nil {
		metadata = map[string]string{}
	}
	metadata[MetadataMethods] = strings.Join(names, ",")
	svc, err := micro.AddService(s.nc, micro.Config{
		Name:         s.cfg.Name,
		Version:      s.cfg.Version,
		Description:  s.cfg.Description,
		Metadata:     metadata,
		StatsHandler: func(*micro.Endpoint) any { return s.Stats() },
	})
	if err != nil {
		return nil, fmt.Errorf("rpcq: add service %s: %w", s.cfg.Name, err)
	}
	group := svc.AddGroup(serviceSubject(s.cfg.Name))
	for _, name := range names {
		m := s.methods[name]
		metadata := micro.WithEndpointMetadata(map[string]string{MetadataMode: s.cfg.Modes[name].String()})
		err := group.AddEndpoint(name, micro.HandlerFunc(func(req micro.Request) { s.serve(m, req, "") }), metadata)
		if err == nil && s.cfg.Callers {
			subject := Subject(s.cfg.Name, name)
			err = group.AddEndpoint(name+callerEndpointSuffix,
				micro.HandlerFunc(func(req micro.Request) { s.serve(m, req, subject) }),
				micro.WithEndpointSubject(name+".*"), metadata)
		}
		if err != nil {
			svc.Stop()
			return nil, fmt.Errorf("rpcq: add endpoint %s.%s: %w", s.cfg.Name, name, err)
		}
	}
	return svc, nil
}

// Shutdown stops taking calls and waits for the running ones to finish.
// Requests already delivered but not started are answered
// CodeUnavailable, which clients retry elsewhere: they did not run. If ctx
// ends first, running handlers see their context cancelled and Shutdown
// returns ctx's error. Shutdown may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.gate.Lock()
	s.closing = true
	s.gate.Unlock()

	s.mu.Lock()
	if !s.stopped {
		s.stopped = true
		s.metrics.unregister()
		s.drained = s.nc.NumSubscriptions() - s.subs
		for _, svc := range s.services {
			if err := svc.Stop(); err != nil {
				s.stopErr = errors.Join(s.stopErr, err)
			}
		}
		if s.services != nil {
			s.cfg.Logger.Info("rpcq: service stopping", "service", s.cfg.Name)
		}
	}
	drained, stopErr := s.drained, s.stopErr
	s.mu.Unlock()

	idle := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(idle)
	}()
	select {
	case <-idle:
	case <-ctx.Done():
		s.stop()
		return ctx.Err()
	}
	// Stop drains the subscriptions in the background; wait until the
	// requests queued in them have had their answer. The count of
	// subscriptions is the only sign of that micro gives, and others may
	// subscribe on the same connection meanwhile, so the wait is bounded.
	grace := time.NewTimer(drainGrace)
	defer grace.Stop()
	for s.nc.NumSubscriptions() > drained && !s.nc.IsClosed() {
		select {
		case <-ctx.Done():
			s.stop()
			return ctx.Err()
		case <-grace.C:
			s.stop()
			return stopErr
		case <-time.After(2 * time.Millisecond):
		}
	}
	s.stop()
	return stopErr
}

// stop ends the handlers' contexts and the server's own goroutines.
func (s *Server) stop() {
	s.cancel()
	s.background.Wait()
	s.bulk.close()
}

// drainGrace bounds Shutdown's wait for queued requests to be answered.
const drainGrace = 2 * time.Second

// enter admits a call unless the server is shutting down.
func (s *Server) enter() bool {
	s.gate.RLock()
	defer s.gate.RUnlock()
	if s.closing {
		return false
	}
	s.inflight.Add(1)
	return true
}
