package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/timesvc"
)

func runTime(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("time", stderr, "[flags]")
	var conn cli.NATSFlags
	conn.Register(fs)
	samples := fs.Int("samples", timesvc.DefaultSamples, "round trips to take; the one with the smallest RTT is kept")
	timeout := fs.Duration("timeout", 5*time.Second, "how long all the round trips may take")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("time takes no arguments, got %q", pos)
	}
	if *samples < 1 {
		return usagef("--samples must be at least 1")
	}
	if *timeout <= 0 {
		return usagef("--timeout must be positive")
	}

	nc, err := dial(ctx, &conn, "drover time")
	if err != nil {
		return err
	}
	defer nc.Close()
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		return err
	}
	defer client.Close()

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	e, err := timesvc.Measure(ctx, client, *samples, time.Now)
	if err != nil {
		return err
	}
	printEstimate(stdout, e)
	return nil
}

// printEstimate writes e as aligned lines:
//
//	offset  +3.000120s
//	rtt     212µs
//	bound   ±106µs
//	server  2026-11-21T20:31:05.123456Z
//	samples 8, 7 within 2× the best rtt
func printEstimate(w io.Writer, e timesvc.Estimate) {
	fmt.Fprintf(w, "offset  %+.6fs\n", e.Offset.Seconds())
	fmt.Fprintf(w, "rtt     %v\n", e.RTT.Round(time.Microsecond))
	fmt.Fprintf(w, "bound   ±%v\n", e.Bound.Round(time.Microsecond))
	fmt.Fprintf(w, "server  %s\n", e.ServerTime().UTC().Format("2006-01-02T15:04:05.000000Z07:00"))
	fmt.Fprintf(w, "samples %d, %d within %d× the best rtt\n", e.Samples, e.Used, timesvc.MaxRTTRatio)
}
