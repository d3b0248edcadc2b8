package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DefaultStartTimeout bounds Start on a single server when its context
// has no deadline. A cluster node has no such bound: it is ready only once
// a quorum of the cluster is up, which takes as long as the other nodes
// take to start.
const DefaultStartTimeout = 10 * time.Second

// waitLogEvery is how often Start logs what it still waits for.
const waitLogEvery = 5 * time.Second

// Broker is a running embedded NATS server with JetStream. Its methods are
// safe for concurrent use.
type Broker struct {
	srv  *server.Server
	log  *slogAdapter
	cfg  Config
	once sync.Once

	clustered bool // a node of a cluster
	routes    int  // configured routes, for the log while waiting
}

// Start runs an embedded NATS server described by cfg and returns once it
// accepts connections and its health check, JetStream included, passes. A server that
// cannot start (port in use, unusable store directory, bad config file)
// is an error, never a process exit.
//
// A cluster node passes its health check once the cluster has a
// JetStream meta leader, which needs a quorum of the nodes, and once it
// is current with the streams it holds. Start waits for that as long as
// ctx lasts (a ctx without a deadline: until the nodes are up), and logs
// what it waits for every few seconds.
func Start(ctx context.Context, cfg Config) (*Broker, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	opts, err := serverOptions(cfg)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o755); err != nil {
		return nil, fmt.Errorf("broker: store directory: %w", err)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	adapter := &slogAdapter{log: cmp.Or(cfg.Logger, slog.Default()).With("component", "nats-server")}
	srv.SetLoggerV2(adapter, false, false, false)
	b := &Broker{srv: srv, log: adapter, cfg: cfg, clustered: opts.Cluster.Port != 0, routes: len(opts.Routes)}

	if _, ok := ctx.Deadline(); !ok && !b.clustered {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	srv.Start()
	if err := b.waitReady(ctx); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

// serverOptions turns cfg into nats-server options: the config file first,
// then every field cfg sets, then our defaults where neither said anything.
func serverOptions(cfg Config) (*server.Options, error) {
	opts := &server.Options{}
	if cfg.ConfigFile != "" {
		var err error
		if opts, err = server.ProcessConfigFile(cfg.ConfigFile); err != nil {
			return nil, fmt.Errorf("broker: config file: %w", err)
		}
	}
	opts.Host = cmp.Or(cfg.Host, opts.Host, DefaultHost)
	opts.Port = cmp.Or(cfg.Port, opts.Port, DefaultPort)
	opts.ClientAdvertise = cmp.Or(cfg.ClientAdvertise, opts.ClientAdvertise)
	if err := setCluster(opts, cfg); err != nil {
		return nil, err
	}
	opts.ServerName = cmp.Or(cfg.ServerName, opts.ServerName, clusterServerName(opts), DefaultServerName)
	opts.HTTPPort = cmp.Or(cfg.HTTPPort, opts.HTTPPort)
	if opts.HTTPPort != 0 {
		opts.HTTPHost = cmp.Or(opts.HTTPHost, opts.Host)
	}
	opts.MaxPayload = cmp.Or(cfg.MaxPayload, opts.MaxPayload)
	if cfg.User != "" {
		opts.Username, opts.Password = cfg.User, cfg.Password
	}
	if cfg.Token != "" {
		opts.Authorization = cfg.Token
	}
	if cfg.TLSCert != "" {
		if err := setTLS(opts, cfg); err != nil {
			return nil, err
		}
	}
	if cfg.SyncInterval != 0 {
		opts.SyncInterval, opts.SyncAlways = cfg.SyncInterval, false
	}
	if cfg.SyncAlways {
		opts.SyncAlways = true
	}
	opts.JetStream = true
	opts.StoreDir = cfg.StoreDir
	opts.NoSigs = true // the binary that embeds us owns the signals
	// The JetStream ASCII art would come to the logger as one Notice per
	// line of art; the notices that follow it (limits, store directory)
	// stay.
	opts.DisableJetStreamBanner = true
	return opts, nil
}

// setCluster makes the server a cluster node with cfg's cluster fields,
// over a config file's cluster block.
func setCluster(opts *server.Options, cfg Config) error {
	opts.Cluster.Name = cmp.Or(cfg.ClusterName, opts.Cluster.Name)
	opts.Cluster.Host = cmp.Or(cfg.ClusterHost, opts.Cluster.Host)
	opts.Cluster.Port = cmp.Or(cfg.ClusterPort, opts.Cluster.Port)
	opts.Cluster.Advertise = cmp.Or(cfg.ClusterAdvertise, opts.Cluster.Advertise)
	// A peer cut off without a word is noticed by the pings on its routes:
	// by the server's defaults (30 s, two outstanding) only after a minute
	// or more, during which the routes to it back up and the nodes left
	// commit writes slowly or not at all.
	opts.Cluster.PingInterval = cmp.Or(opts.Cluster.PingInterval, RoutePingInterval)
	opts.Cluster.MaxPingsOut = cmp.Or(opts.Cluster.MaxPingsOut, RouteMaxPingsOut)
	if len(cfg.Routes) > 0 {
		opts.Routes = server.RoutesFromStr(strings.Join(cfg.Routes, ","))
		if len(opts.Routes) != len(cfg.Routes) {
			return fmt.Errorf("%w: Routes %q", ErrInvalidConfig, cfg.Routes)
		}
	}
	return nil
}

// clusterServerName is the name of a cluster node not given one: its
// host name, unique among machines where the default would not be.
func clusterServerName(opts *server.Options) string {
	if opts.Cluster.Port == 0 {
		return ""
	}
	name, _ := os.Hostname()
	return name
}

// setTLS makes the client port speak TLS only, with cfg's certificate,
// and, with cfg.TLSCA, accept only clients whose certificate that
// authority signed, as nats-server's tls { verify: true } does.
func setTLS(opts *server.Options, cfg Config) error {
	tc, err := server.GenTLSConfig(&server.TLSConfigOpts{
		CertFile: cfg.TLSCert,
		KeyFile:  cfg.TLSKey,
		CaFile:   cfg.TLSCA,
		Verify:   cfg.TLSCA != "",
	})
	if err != nil {
		return fmt.Errorf("broker: tls: %w", err)
	}
	opts.TLSConfig = tc
	opts.TLSVerify = cfg.TLSCA != ""
	opts.TLSTimeout = cmp.Or(opts.TLSTimeout, defaultTLSTimeout.Seconds())
	return nil
}

// defaultTLSTimeout bounds a client's TLS handshake, as nats-server's
// default does.
const defaultTLSTimeout = 2 * time.Second

// waitReady waits for the client listener, then for the server's own
// health check, which JetStream passes only once it is enabled and every
// stream in the store is recovered. It asks the server, never a client
// connection: a configuration may admit no client this package could be
// (users, nkeys, accounts, a client certificate), and the JetStream
// setup it waits for ran inside srv.Start before the listener opened; a
// failure there came through Fatalf.
func (b *Broker) waitReady(ctx context.Context) error {
	// Poll in short steps: a listener that failed (port in use) reports
	// through Fatalf, and there is no point waiting out the whole timeout.
	for !b.srv.ReadyForConnections(25 * time.Millisecond) {
		if err := b.log.fatalErr(); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: no client listener on %s:%d", ErrNotReady, b.cfg.Host, b.cfg.Port)
		}
	}
	logAt := time.Now().Add(waitLogEvery)
	for {
		if err := b.log.fatalErr(); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		err := b.health()
		if err == nil {
			return nil
		}
		if time.Now().After(logAt) {
			b.logWaiting(err)
			logAt = time.Now().Add(waitLogEvery)
		}
		select {
		case <-ctx.Done():
			if b.clustered {
				return fmt.Errorf("%w: %w (connected to %d other nodes, %d routes configured)", ErrNotReady, err, b.peers(), b.routes)
			}
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// logWaiting says what Start still waits for.
func (b *Broker) logWaiting(err error) {
	log := cmp.Or(b.cfg.Logger, slog.Default())
	if !b.clustered {
		log.Info("broker waiting for JetStream", "reason", err)
		return
	}
	log.Info("broker waiting for a quorum of the cluster's nodes",
		"reason", err, "connected", b.peers(), "routes", b.routes)
}

// peers is the number of other nodes this one has a route to.
func (b *Broker) peers() int {
	rz, err := b.srv.Routez(nil)
	if err != nil {
		return 0
	}
	ids := map[string]bool{}
	for _, r := range rz.Routes {
		ids[r.RemoteID] = true
	}
	return len(ids)
}

// health is the server's health check: the client listener, JetStream
// enabled, and on one server every stream of the store recovered.
func (b *Broker) health() error {
	if st := b.srv.Healthz(nil); st.Error != "" || len(st.Errors) > 0 {
		return fmt.Errorf("health: %s", cmp.Or(st.Error, fmt.Sprint(st.Errors)))
	}
	if !b.srv.JetStreamEnabled() {
		return errors.New("jetstream: not enabled")
	}
	return nil
}

// ClientURL is the URL clients on this machine connect to.
func (b *Broker) ClientURL() string { return b.srv.ClientURL() }

// Port is the client port the server listens on.
func (b *Broker) Port() int {
	if addr, ok := b.srv.Addr().(*net.TCPAddr); ok {
		return addr.Port
	}
	return 0
}

// ClusterPort is the port the server listens on for the other nodes of
// its cluster, 0 when it is not a cluster node.
func (b *Broker) ClusterPort() int {
	if addr := b.srv.ClusterAddr(); addr != nil {
		return addr.Port
	}
	return 0
}

// Server is the underlying nats-server, for what this package does not wrap.
func (b *Broker) Server() *server.Server { return b.srv }

// ConnectOptions are the nats.go options that carry the credentials the
// broker was configured with.
func (b *Broker) ConnectOptions() []nats.Option {
	var opts []nats.Option
	switch {
	case b.cfg.User != "":
		opts = append(opts, nats.UserInfo(b.cfg.User, b.cfg.Password))
	case b.cfg.Token != "":
		opts = append(opts, nats.Token(b.cfg.Token))
	}
	return opts
}

// Connect dials the broker over TCP with its credentials and opts.
func (b *Broker) Connect(opts ...nats.Option) (*nats.Conn, error) {
	nc, err := nats.Connect(b.ClientURL(), append(b.ConnectOptions(), opts...)...)
	if err != nil {
		return nil, fmt.Errorf("broker: connect: %w", err)
	}
	return nc, nil
}

// Close shuts the server down and waits until it has. It is idempotent.
func (b *Broker) Close() {
	b.once.Do(func() {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	})
}
