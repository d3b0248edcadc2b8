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
	"github.com/nats-io/nats.go/jetstream"
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
// accepts connections and JetStream answers an API call. A server that
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
	opts.JetStream = true
	opts.StoreDir = cfg.StoreDir
	opts.NoSigs = true // the binary that embeds us owns the signals
	// The JetStream ASCII art would come to the logger as one Notice per
	// line of art; the notices that follow it (limits, store directory)
	// stay.
	opts.DisableJetStreamBanner = true
	return opts, nil
}

// waitReady waits for the client listener, then for a real JetStream API
// answer: JetStreamEnabled() reports true even when JetStream failed.
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
	nc, err := nats.Connect("", append(b.ConnectOptions(), nats.InProcessServer(b.srv))...)
	if errors.Is(err, nats.ErrAuthorization) {
		// A config file with its own accounts: ask the server itself.
		return b.healthz()
	}
	if err != nil {
		return fmt.Errorf("%w: connect: %w", ErrNotReady, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("%w: jetstream: %w", ErrNotReady, err)
	}
	for {
		_, err := js.AccountInfo(ctx)
		if err == nil {
			return nil
		}
		if fatal := b.log.fatalErr(); fatal != nil {
			return fmt.Errorf("broker: %w", fatal)
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%w: jetstream: %w", ErrNotReady, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (b *Broker) healthz() error {
	if st := b.srv.Healthz(&server.HealthzOptions{JSEnabledOnly: true}); st.Error != "" {
		return fmt.Errorf("%w: jetstream: %s", ErrNotReady, st.Error)
	}
	return b.log.fatalErr()
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
