package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// DefaultStartTimeout bounds Start when its context has no deadline.
const DefaultStartTimeout = 10 * time.Second

// Broker is a running embedded NATS server with JetStream. Its methods are
// safe for concurrent use.
type Broker struct {
	srv  *server.Server
	log  *slogAdapter
	cfg  Config
	once sync.Once
}

// Start runs an embedded NATS server described by cfg and returns once it
// accepts connections and its health check, JetStream included, passes. A server that
// cannot start (port in use, unusable store directory, bad config file)
// is an error, never a process exit.
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
	b := &Broker{srv: srv, log: adapter, cfg: cfg}

	if _, ok := ctx.Deadline(); !ok {
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
	opts.ServerName = cmp.Or(cfg.ServerName, opts.ServerName, DefaultServerName)
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
	opts.JetStream = true
	opts.StoreDir = cfg.StoreDir
	opts.NoSigs = true // the binary that embeds us owns the signals
	// The JetStream ASCII art would come to the logger as one Notice per
	// line of art; the notices that follow it (limits, store directory)
	// stay.
	opts.DisableJetStreamBanner = true
	return opts, nil
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
	for {
		if err := b.log.fatalErr(); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
		err := b.health()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", ErrNotReady, err)
		case <-time.After(10 * time.Millisecond):
		}
	}
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
