// Command wordcount serves the lecture's word-count RPC over NATS with rpcq
// and calls it, synchronously and asynchronously.
//
//	go run ./examples/wordcount                       # embedded broker: serve, call, print
//	go run ./examples/wordcount --serve               # serve on an embedded broker until Ctrl-C
//	go run ./examples/wordcount --nats URL --serve    # serve on an existing NATS
//
// While it serves, a shell reaches it with the nats CLI:
//
//	nats request rpcq.WordCount.Compute '{"Input":"a b a"}'
//	nats micro ls
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/rpcq"
)

// lectureInput is the sentence the lecture counts.
const lectureInput = "hello I am good hello bye bye bye good night hello"

func main() { cli.Main("wordcount", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("wordcount", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conn cli.NATSFlags
	conn.Register(fs)
	serveOnly := fs.Bool("serve", false, "serve until interrupted instead of calling once")
	input := fs.String("input", lectureInput, "text to count")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	nc, closeNATS, err := connect(ctx, &conn, stdout, log)
	if err != nil {
		return err
	}
	defer closeNATS()

	srv, err := rpcq.NewServer(nc, rpcq.ServerConfig{
		Name:        "WordCount",
		Version:     "1.0.0",
		Description: "Counts whitespace-separated words",
		Modes:       map[string]rpcq.Mode{"Compute": rpcq.ReadOnly},
		Logger:      log,
	})
	if err != nil {
		return err
	}
	if err := srv.Register(&WordCountServer{}); err != nil {
		return err
	}
	if err := srv.Start(); err != nil {
		return err
	}
	defer shutdown(srv)

	if *serveOnly {
		fmt.Fprintf(stdout, "serving rpcq.WordCount.Compute on %s; try:\n  nats request --server %s rpcq.WordCount.Compute '{\"Input\":\"a b a\"}'\n", nc.ConnectedUrl(), nc.ConnectedUrl())
		<-ctx.Done()
		return nil
	}
	return callBothWays(ctx, nc, *input, stdout)
}

// connect dials --nats or NATS_URL if given, else starts an embedded broker.
func connect(ctx context.Context, conn *cli.NATSFlags, stdout io.Writer, log *slog.Logger) (*nats.Conn, func(), error) {
	if conn.ServerURL() != "" {
		nc, err := conn.Connect("wordcount")
		if err != nil {
			return nil, nil, err
		}
		return nc, func() { nc.Drain() }, nil
	}
	dir, err := os.MkdirTemp("", "wordcount-broker-")
	if err != nil {
		return nil, nil, err
	}
	b, err := broker.Start(ctx, broker.Config{Port: broker.RandomPort, StoreDir: dir, Logger: log})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	fmt.Fprintf(stdout, "embedded NATS at %s\n", b.ClientURL())
	nc, err := b.Connect()
	if err != nil {
		b.Close()
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return nc, func() {
		nc.Drain()
		b.Close()
		os.RemoveAll(dir)
	}, nil
}

// callBothWays calls Compute with Call, then with Go, as the lecture does.
func callBothWays(ctx context.Context, nc *nats.Conn, input string, stdout io.Writer) error {
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		return err
	}
	defer client.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := WordCountRequest{Input: input}
	fmt.Fprintf(stdout, "input: %q\n", input)

	var sync WordCountReply
	if err := client.Call(ctx, "WordCount.Compute", req, &sync); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Call (synchronous):  %v\n", sync.Counts)

	var async WordCountReply
	call := client.Go(ctx, "WordCount.Compute", req, &async, nil)
	<-call.Done
	if call.Error != nil {
		return call.Error
	}
	fmt.Fprintf(stdout, "Go   (asynchronous): %v\n", async.Counts)
	return nil
}

func shutdown(srv *rpcq.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(ctx)
}
