// Command broker runs an embedded NATS server with JetStream until SIGINT
// or SIGTERM:
//
//	broker --listen 127.0.0.1:4222 --store DIR
package main

import (
	"context"
	"io"
	"net"
	"strconv"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/internal/cli"
)

func main() { cli.Main("broker", run, "broker: ") }

const description = `Runs a NATS server with JetStream, Drover's broker for one machine, until
SIGINT or SIGTERM.`

// maxPayloadLimit is the largest max_payload nats-server accepts, 64 MiB.
const maxPayloadLimit = 64 << 20

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("broker", "[flags]", description, stderr)
	var (
		cfg    broker.Config
		listen string
		logs   cli.LogFlags
	)
	fs.StringVar(&listen, "listen", net.JoinHostPort(broker.DefaultHost, strconv.Itoa(broker.DefaultPort)), "client listen address host:port")
	fs.StringVar(&cfg.StoreDir, "store", broker.DefaultStoreDir(), "JetStream store directory")
	fs.StringVar(&cfg.ServerName, "name", broker.DefaultServerName, "server name")
	fs.IntVar(&cfg.HTTPPort, "http-port", 0, "monitoring HTTP port (0: off)")
	fs.StringVar(&cfg.User, "user", "", "require this user name of clients")
	fs.StringVar(&cfg.Password, "password", "", "require this password of clients")
	fs.StringVar(&cfg.Token, "token", "", "require this token of clients")
	maxPayload := fs.Int("max-payload", broker.DefaultMaxPayload, "largest message in bytes")
	fs.StringVar(&cfg.ConfigFile, "config", "", "nats-server configuration file; flags given override it")
	logs.Register(fs)
	pos, err := cli.Parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return cli.Usagef("unexpected argument %q", pos[0])
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return cli.Usagef("--listen %q: %v", listen, err)
	}
	if cfg.Port, err = strconv.Atoi(port); err != nil {
		return cli.Usagef("--listen %q: port is not a number", listen)
	}
	cfg.Host = host
	if *maxPayload < 1 || *maxPayload > maxPayloadLimit {
		return cli.Usagef("--max-payload %d: want 1 to %d bytes", *maxPayload, maxPayloadLimit)
	}
	cfg.MaxPayload = int32(*maxPayload)
	if cfg.HTTPPort < 0 || cfg.HTTPPort > 65535 {
		return cli.Usagef("--http-port %d: want 0 to 65535", cfg.HTTPPort)
	}
	if cfg.Logger, err = logs.Logger(stderr); err != nil {
		return cli.Usagef("%v", err)
	}

	b, err := broker.Start(ctx, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return nil // interrupted while starting
		}
		return err
	}
	defer b.Close()
	cfg.Logger.Info("broker ready", "url", b.ClientURL(), "store", cfg.StoreDir)
	<-ctx.Done()
	cfg.Logger.Info("broker stopping")
	return nil
}
