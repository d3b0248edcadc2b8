// Command broker runs an embedded NATS server with JetStream until SIGINT
// or SIGTERM:
//
//	broker --listen 127.0.0.1:4222 --store DIR
//	broker --config DIR/broker.conf --tls-cert server.pem --tls-key server-key.pem --tls-ca ca.pem
//	broker --name n1 --listen 0.0.0.0:4222 --cluster-name drover --cluster 0.0.0.0:6222 \
//	       --routes nats://h2:6222,nats://h3:6222 --sync-interval always
package main

import (
	"context"
	"flag"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

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
a certificate that authority signed.

--cluster-name, --cluster and --routes make the broker one node of a
JetStream cluster (three nodes survive the loss of one): every node has
the same --cluster-name and its own --name, listens for the others on
--cluster, and lists the others' --cluster addresses in --routes (the
same list on every node will do: a node skips itself). A node is ready
once a quorum of the nodes is up; it waits for them, saying so, until
interrupted. Start the master with --replicas 3 to replicate Drover's
streams and buckets over the nodes.

--sync-interval is how often JetStream fsyncs its store, or 'always' to
fsync every write before it is acknowledged. What was acknowledged since
the last fsync survives a killed process but not a machine's power loss,
unless another node holds it.`

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
	if !given["sync-interval"] {
		cfg.SyncInterval, cfg.SyncAlways = 0, false
	}
}

// flagGiven reports whether the flag name was on the command line.
func flagGiven(fs *flag.FlagSet, name string) bool {
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == name })
	return given
}

// defaultSyncInterval is nats-server's own fsync interval.
const defaultSyncInterval = "2m"

// clusterFlags sets cfg's cluster fields from --cluster and --routes, and
// checks that the cluster flags come together.
func clusterFlags(cfg *broker.Config, cluster, routes string) error {
	if cluster != "" {
		host, port, err := net.SplitHostPort(cluster)
		if err != nil {
			return cli.Usagef("--cluster %q: %v", cluster, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return cli.Usagef("--cluster %q: want a port from 1 to 65535", cluster)
		}
		cfg.ClusterHost, cfg.ClusterPort = host, p
	}
	if routes != "" {
		for r := range strings.SplitSeq(routes, ",") {
			r = strings.TrimSpace(r)
			if err := broker.CheckRoute(r); err != nil {
				return cli.Usagef("--routes: %v", err)
			}
			cfg.Routes = append(cfg.Routes, r)
		}
	}
	if strings.ContainsAny(cfg.ClusterName, " \t\n") {
		return cli.Usagef("--cluster-name %q: want a name without spaces", cfg.ClusterName)
	}
	if cfg.ConfigFile != "" {
		return nil // the file's cluster block may say the rest
	}
	given := (cfg.ClusterName != "") || cluster != "" || routes != ""
	if given && (cfg.ClusterName == "" || cluster == "" || routes == "") {
		return cli.Usagef("--cluster-name, --cluster and --routes go together")
	}
	return nil
}

// syncFlag sets cfg's fsync policy from --sync-interval.
func syncFlag(cfg *broker.Config, v string) error {
	if v == "always" {
		cfg.SyncAlways = true
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return cli.Usagef("--sync-interval %q: want a positive duration such as 1s, or always", v)
	}
	cfg.SyncInterval = d
	return nil
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
	fs.StringVar(&cfg.ServerName, "name", broker.DefaultServerName, "server name, unique in a cluster (a cluster node's default: the host name)")
	fs.IntVar(&cfg.HTTPPort, "http-port", 0, "monitoring HTTP port (0: off)")
	fs.StringVar(&cfg.User, "user", "", "require this user name of clients")
	fs.StringVar(&cfg.Password, "password", "", "require this password of clients")
	fs.StringVar(&cfg.Token, "token", "", "require this token of clients")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "server TLS certificate file (PEM)")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "server TLS private key file (PEM)")
	fs.StringVar(&cfg.TLSCA, "tls-ca", "", "require client certificates signed by this CA file (PEM)")
	maxPayload := fs.Int("max-payload", broker.DefaultMaxPayload, "largest message in bytes")
	fs.StringVar(&cfg.ClusterName, "cluster-name", "", "cluster name, the same on every node (off: one server)")
	cluster := fs.String("cluster", "", "cluster listen address host:port for the other nodes")
	routes := fs.String("routes", "", "the other nodes' cluster URLs, comma-separated: nats://h2:6222,nats://h3:6222")
	syncInterval := fs.String("sync-interval", defaultSyncInterval, "JetStream fsync interval, a duration or 'always'")
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
	if err := clusterFlags(&cfg, *cluster, *routes); err != nil {
		return err
	}
	if err := syncFlag(&cfg, *syncInterval); err != nil {
		return err
	}
	if cfg.ConfigFile != "" {
		keepFileSettings(fs, &cfg)
	}
	if !flagGiven(fs, "name") && cfg.ClusterPort != 0 {
		cfg.ServerName = "" // the host name: each node needs its own
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
	if b.ClusterPort() != 0 {
		cfg.Logger.Info("broker ready", "url", b.ClientURL(), "store", cfg.StoreDir,
			"name", b.Server().Name(), "cluster", b.Server().ClusterName(), "cluster_port", b.ClusterPort())
	} else {
		cfg.Logger.Info("broker ready", "url", b.ClientURL(), "store", cfg.StoreDir)
	}
	<-ctx.Done()
	cfg.Logger.Info("broker stopping")
	return nil
}
