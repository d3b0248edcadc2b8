// Command broker runs an embedded NATS server with JetStream until SIGINT
// or SIGTERM:
//
//	broker --listen 127.0.0.1:4222 --store DIR
//	broker --config DIR/broker.conf --tls-cert server.pem --tls-key server-key.pem --tls-ca ca.pem
package main

import (
	"context"
	"flag"
	"io"
	"net"
	"strconv"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/internal/cli"
)

func main() { cli.Main("broker", run, "broker: ") }

const description = `Runs a NATS server with JetStream, Drover's broker for one machine, until
SIGINT or SIGTERM.

--config takes any nats-server configuration file: authorization with a
token, users or nkeys and their permissions, accounts with JetStream
enabled per account, tls. 'drover auth init' writes one with a user per
Drover role (broker.conf). Flags given override the file; --listen,
--name and --max-payload not given leave the file's listen, server_name
and max_payload (else their defaults) in force. The store is always
--store's.

--tls-cert and --tls-key make the client port speak TLS only (clients use
tls:// URLs or --tls-ca); --tls-ca also requires every client to present
a certificate that authority signed.`

// keepFileSettings clears the fields of flags not given on the command
// line that a config file may set, so that the file's say holds, and
// broker's defaults only where the file says nothing.
func keepFileSettings(fs *flag.FlagSet, cfg *broker.Config) {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if !given["listen"] {
		cfg.Host, cfg.Port = "", 0
	}
	if !given["name"] {
		cfg.ServerName = ""
	}
	if !given["max-payload"] {
		cfg.MaxPayload = 0
	}
}

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
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "server TLS certificate file (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "server TLS private key file (PEM)")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "require client certificates signed by this CA file (PEM)")
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
	if cfg.ConfigFile != "" {
		keepFileSettings(fs, &cfg)
	}
	if cfg.HTTPPort < 0 || cfg.HTTPPort > 65535 {
		return cli.Usagef("--http-port %d: want 0 to 65535", cfg.HTTPPort)
	}
	if (cfg.TLSCert == "") != (cfg.TLSKey == "") {
		return cli.Usagef("--tls-cert and --tls-key go together")
	}
	if cfg.TLSCA != "" && cfg.TLSCert == "" {
		return cli.Usagef("--tls-ca needs --tls-cert and --tls-key")
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
