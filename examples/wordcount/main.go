// Command wordcount serves the lecture's word-count RPC over NATS with rpcq
// and calls it, synchronously and asynchronously.
//
//	go run ./examples/wordcount                       # embedded broker: serve, call, print
//	go run ./examples/wordcount --serve               # serve on an embedded broker at 127.0.0.1:4222 until Ctrl-C
//	go run ./examples/wordcount --nats URL --serve    # serve on an existing NATS
//
// With --serve and no --nats (or NATS_URL), the embedded broker listens
// on 127.0.0.1:4222, where the nats CLI and drover look by default, or on
// --port. If that port is taken (by a NATS server already running there,
// say), it listens on a free port instead and says so: pass
// --nats nats://127.0.0.1:4222 to serve on the server that holds it.
// Either way the one line it prints on stdout names the URL it serves on:
//
//	serving WordCount on nats://127.0.0.1:4222
//
// While it serves, a shell reaches it with the nats CLI or drover:
//
//	nats request rpcq.WordCount.Compute '{"Input":"a b a"}'
//	nats micro ls
//	drover call WordCount.Compute '{"Input":"a b a"}' --nats nats://127.0.0.1:4222
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
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
	port := fs.Int("port", broker.DefaultPort, "with --serve and no --nats: the embedded broker's port (0: any free one); a free one if it is taken")
	input := fs.String("input", lectureInput, "text to count")
	if _, err := cli.Parse(fs, args); err != nil {
		return err
	}
	if *port < 0 || *port > 65535 {
		return cli.Usagef("--port %d: want 0 to 65535", *port)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	// Only a server waiting for a shell needs a port the shell knows; its
	// stdout is the one line that names it.
	brokerPort, notes := broker.RandomPort, stdout
	if *serveOnly {
		notes = stderr
		if *port != 0 {
			brokerPort = *port
		}
	}
	nc, closeNATS, err := connect(ctx, &conn, *serveOnly, brokerPort, notes, log)
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
		url := nc.ConnectedUrlRedacted()
		fmt.Fprintf(stdout, "serving WordCount on %s\n", url)
		fmt.Fprintf(stderr, "try:\n  nats request --server %s rpcq.WordCount.Compute '{\"Input\":\"a b a\"}'\n"+
			"  drover call WordCount.Compute '{\"Input\":\"a b a\"}' --nats %s\n", url, url)
		<-ctx.Done()
		return nil
	}
	return callBothWays(ctx, nc, *input, stdout)
}

// connect dials --nats or NATS_URL if given, waiting for it to answer if
// it is to serve, else starts an embedded broker on 127.0.0.1:port, or on
// a free port if port is taken or broker.RandomPort. It says where the
// broker listens on notes.
func connect(ctx context.Context, conn *cli.NATSFlags, serve bool, port int, notes io.Writer, log *slog.Logger) (*nats.Conn, func(), error) {
	if conn.ServerURL() != "" {
		dial := func() (*nats.Conn, error) { return conn.Connect("wordcount") }
		if serve {
			dial = func() (*nats.Conn, error) { return conn.ConnectWait(ctx, "wordcount", log) }
		}
		nc, err := dial()
		if err != nil {
			return nil, nil, err
		}
		return nc, func() { nc.Drain() }, nil
	}
	dir, err := os.MkdirTemp("", "wordcount-broker-")
	if err != nil {
		return nil, nil, err
	}
	if port != broker.RandomPort && !portFree(port) {
		fmt.Fprintf(notes, "%s:%d is in use: the embedded broker takes a free port (pass --nats nats://%[1]s:%[2]d to serve on the server there)\n", broker.DefaultHost, port)
		port = broker.RandomPort
	}
	b, err := broker.Start(ctx, broker.Config{Port: port, StoreDir: dir, Logger: log})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	fmt.Fprintf(notes, "embedded NATS at %s\n", b.ClientURL())
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

// portFree reports whether nothing listens on port of the broker's host.
func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort(broker.DefaultHost, strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
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
