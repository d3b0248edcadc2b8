// Command kvserver serves the lecture's key/value service (Put, Append,
// Get) on rpcq until SIGINT or SIGTERM, keeping its data and completion
// records in --data so that it can be killed at any moment:
//
//	kvserver --data DIR [--mode exactly-once|at-most-once] [--nats URL] [--metrics ADDR]
package main

import (
	"context"
	"io"
	"time"

	"github.com/drover-dev/drover/examples/kv"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/rpcq"
)

func main() { cli.Main("kvserver", run, "kv: ") }

const description = `Serves the lecture's key/value service (Put, Append, Get) on rpcq. Its data
and completion records share one fsynced log in --data, so it can be killed
at any moment and restarted.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewBinary("kvserver", "--data DIR [flags]", description, stderr)
	dir := fs.String("data", "", "directory of the data and completion records (required)")
	modeName := fs.String("mode", "exactly-once", "Put and Append semantics: exactly-once or at-most-once")
	concurrency := fs.Int("concurrency", rpcq.DefaultConcurrency, "calls run at once per method")
	lease := fs.Duration("lease", rpcq.DefaultClientLease, "how long an idle client's records are kept")
	metricsAddr := fs.String("metrics", "", "serve Prometheus metrics at http://`ADDR`/metrics (host:port; default: none)")
	log, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if *concurrency < 1 {
		return cli.Usagef("--concurrency %d: want at least 1", *concurrency)
	}
	if *lease <= 0 {
		return cli.Usagef("--lease %v: want a positive duration", *lease)
	}
	if *dir == "" {
		return cli.Usagef("--data is required")
	}
	mode, err := rpcq.ParseMode(*modeName)
	if err != nil || (mode != rpcq.ExactlyOnce && mode != rpcq.AtMostOnce) {
		return cli.Usagef("--mode %q: want exactly-once or at-most-once", *modeName)
	}

	store, err := kv.Open(*dir, kv.Options{ClientLease: *lease, Logger: log})
	if err != nil {
		return err
	}
	defer store.Close()
	nc, err := fs.NATS.ConnectWait(ctx, "kvserver", log)
	if err != nil {
		return err
	}
	defer nc.Drain()
	promReg := metrics.NewRegistry()
	stopMetrics, err := metrics.Start(ctx, *metricsAddr, promReg, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	srv, err := store.Serve(nc, mode, rpcq.ServerConfig{Version: "1.0.0", Concurrency: *concurrency, ClientLease: *lease, Logger: log, Metrics: promReg})
	if err != nil {
		return err
	}
	log.Info("kvserver ready", "nats", nc.ConnectedUrlRedacted(), "data", *dir, "mode", mode)
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
