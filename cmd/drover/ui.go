package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/drover-dev/drover/dashboard"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/rpcq"
)

// defaultUIAddr is where drover ui listens unless told: the loopback
// interface, since the dashboard has no login of its own.
const defaultUIAddr = "127.0.0.1:8080"

// uiShutdown bounds how long open requests may finish when drover ui stops.
const uiShutdown = 5 * time.Second

func runUI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("ui", stderr, "[--http ADDR] [flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	conn.RegisterAs(fs)
	var logs cli.LogFlags
	logs.Register(fs)
	addr := fs.String("http", defaultUIAddr, "address to serve the dashboard on; anyone who reaches it may see and cancel jobs")
	refresh := fs.Duration("refresh", dashboard.DefaultRefresh, "how often pages of running work update")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("ui takes no arguments")
	}
	if *refresh < 100*time.Millisecond || *refresh > time.Hour {
		return usagef("--refresh %v: want 100ms to 1h", *refresh)
	}
	log, err := logs.Logger(stderr)
	if err != nil {
		return usagef("%v", err)
	}
	caller, err := conn.Caller()
	if err != nil {
		return usagef("%v", err)
	}
	// Not dial: a request the user may not make is shown on its page,
	// it does not end the server.
	nc, err := conn.Connect("drover ui")
	if err != nil {
		return err
	}
	defer nc.Close()
	// As a submitter, the dashboard shows its own jobs alone.
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{Caller: caller})
	if err != nil {
		return err
	}
	defer client.Close()
	src, err := dashboard.NewJetStream(dashboard.JetStreamConfig{Conn: nc, Client: client, Logger: log})
	if err != nil {
		return err
	}
	defer src.Close()
	h, err := dashboard.New(dashboard.Config{Source: src, Logger: log, Refresh: *refresh})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && !tcp.IP.IsLoopback() {
		log.Warn("drover ui: serving beyond this machine; the dashboard has no login: anyone who reaches it may see and cancel jobs", "addr", ln.Addr().String())
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	fmt.Fprintf(stdout, "dashboard on http://%s\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), uiShutdown)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
