package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where Serve answers scrapes.
const Path = "/metrics"

// NewRegistry returns a registry with the Go runtime's and the process's
// collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Listen opens addr (host:port; port 0 picks one) for Serve, so that the
// caller learns the address before serving, and a taken port is an error
// at start-up.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	return ln, nil
}

// Serve answers scrapes of g on ln at Path until ctx ends, then closes
// ln. It returns nil once ctx has ended.
func Serve(ctx context.Context, ln net.Listener, g prometheus.Gatherer, log *slog.Logger) error {
	mux := http.NewServeMux()
	mux.Handle(Path, promhttp.HandlerFor(g, promhttp.HandlerOpts{ErrorLog: slogPrinter{log}}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	})
	defer stop()
	err := srv.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("metrics: serve: %w", err)
}

// slogPrinter is promhttp's error log on a slog.Logger.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Println(v ...any) {
	if p.log != nil {
		p.log.Warn("metrics: " + fmt.Sprint(v...))
	}
}

// Start is Listen and Serve on a goroutine of its own, for a binary's
// --metrics ADDR: it logs where it serves, until ctx ends or stop is
// called; stop waits for the server to close. With addr "" it serves
// nothing.
func Start(ctx context.Context, addr string, g prometheus.Gatherer, log *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := Listen(addr)
	if err != nil {
		return nil, err
	}
	if log != nil {
		log.Info("metrics: serving", "url", "http://"+ln.Addr().String()+Path)
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := Serve(ctx, ln, g, log); err != nil && log != nil {
			log.Error("metrics: stopped", "error", err)
		}
	}()
	return func() {
		cancel()
		<-done
	}, nil
}
