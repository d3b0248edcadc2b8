// Command timeserver serves the time service (rpcq.Time.Now) on a NATS
// server until SIGINT or SIGTERM, for `drover time` to measure against:
//
//	timeserver [--nats URL] [--skew 3s]
//
// --skew serves a clock that is off by a known amount, to see Cristian's
// algorithm find it.
package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/timesvc"
)

func main() { cli.Main("timeserver", run, "timesvc: ") }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewBinary("timeserver", "[--skew 3s] [flags]", "Serves rpcq.Time.Now with a clock off by --skew, to try Cristian's algorithm.", stderr)
	skew := fs.Duration("skew", 0, "serve a clock off by this much")
	log, err := fs.Parse(args)
	if err != nil {
		return err
	}
	nc, err := fs.NATS.ConnectWait(ctx, "timeserver", log)
	if err != nil {
		return err
	}
	defer nc.Drain()
	srv, err := timesvc.Serve(nc, timesvc.Config{Clock: func() time.Time { return time.Now().Add(*skew) }})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "serving %s on %s with a clock %v off\n", timesvc.Subject, nc.ConnectedUrlRedacted(), *skew)
	<-ctx.Done()
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
