package timesvc

import (
	"github.com/prometheus/client_golang/prometheus"

	"cmp"
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/rpcq"
)

// Names of the time service. Clients call ServiceMethod; a shell reaches
// the same method on Subject.
const (
	// Service is the rpcq service name.
	Service = "Time"
	// Method is the one method: it answers the server's T2 and T3.
	Method = "Now"
	// ServiceMethod is what rpcq.Client.Call takes.
	ServiceMethod = Service + "." + Method
	// Subject is the NATS subject of the method.
	Subject = rpcq.SubjectPrefix + "." + Service + "." + Method
	// version is the service's version, as `nats micro ls` shows it.
	version = "1.0.0"
)

// NowReply is the answer of Time.Now: the server's clock when the request
// reached the handler (T2) and when the reply left it (T3), in Unix
// nanoseconds, so that a shell reads plain numbers:
//
//	$ nats request rpcq.Time.Now ''
//	{"t2":1763757065123456789,"t3":1763757065123457012}
type NowReply struct {
	T2 int64 `json:"t2"`
	T3 int64 `json:"t3"`
}

// Config describes a time server. Zero fields take their defaults.
type Config struct {
	// Clock reads the server's time (default time.Now). Tests skew the
	// server by returning time.Now().Add(skew).
	Clock func() time.Time
	// Concurrency is how many requests are answered at once (default
	// rpcq.DefaultConcurrency). A request queued behind others gets a
	// longer RTT, and so a wider bound, never a wrong one: the queueing
	// happens before T2.
	Concurrency int
	// Logger receives the service's events (default slog.Default).
	Logger *slog.Logger
	// Metrics, if not nil, receives the rpcq server's collectors
	// (rpcq.ServerConfig.Metrics).
	Metrics prometheus.Registerer
}

func (c *Config) validate() error {
	if c.Concurrency < 0 {
		return fmt.Errorf("%w: Concurrency %d is negative", ErrInvalidConfig, c.Concurrency)
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	c.Logger = cmp.Or(c.Logger, slog.Default())
	return nil
}

// Serve starts the time service on nc and returns its rpcq server, which
// the caller shuts down (rpcq.Server.Shutdown) before closing nc. Time.Now
// is declared rpcq.ReadOnly: asking the time twice does no harm, so
// clients resend freely.
func Serve(nc *nats.Conn, cfg Config) (*rpcq.Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	srv, err := rpcq.NewServer(nc, rpcq.ServerConfig{
		Name:        Service,
		Version:     version,
		Description: "Cristian's algorithm: answers the server's receive and reply times",
		Concurrency: cfg.Concurrency,
		Modes:       map[string]rpcq.Mode{Method: rpcq.ReadOnly},
		Logger:      cfg.Logger,
		Metrics:     cfg.Metrics,
	})
	if err != nil {
		return nil, err
	}
	if err := rpcq.HandleFunc(srv, Method, nowHandler(cfg.Clock)); err != nil {
		return nil, err
	}
	if err := srv.Start(); err != nil {
		return nil, err
	}
	return srv, nil
}

// nowHandler stamps T2 on entry and T3 as the last thing before rpcq
// encodes and sends the reply; nothing of ours runs in between.
func nowHandler(clock func() time.Time) func(context.Context, struct{}) (NowReply, error) {
	return func(context.Context, struct{}) (NowReply, error) {
		t2 := clock()
		t3 := clock()
		return stamps(t2, t3), nil
	}
}

// stamps puts T2 and T3 on the wire. T3 is sent as T2 plus t3.Sub(t2),
// which uses the monotonic clock when both readings carry it (time.Now's
// do): a step of the server's wall clock between the two stamps then cannot
// make the server's processing time, and so the client's RTT, wrong.
func stamps(t2, t3 time.Time) NowReply {
	n2 := t2.UnixNano()
	return NowReply{T2: n2, T3: n2 + int64(t3.Sub(t2))}
}
