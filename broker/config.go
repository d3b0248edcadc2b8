package broker

import (
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Defaults applied to a zero Config field.
const (
	DefaultHost       = "127.0.0.1"
	DefaultPort       = 4222
	DefaultServerName = "drover"
	DefaultMaxPayload = 8 << 20 // 8 MiB: task messages and object chunks stay well below it
)

// A cluster node pings each route every RoutePingInterval and closes it
// when RouteMaxPingsOut pings go unanswered, so a peer cut off without a
// word is given up within seconds (a config file's cluster block may say
// otherwise).
const (
	RoutePingInterval = 2 * time.Second
	RouteMaxPingsOut  = 3
)

// RandomPort, as Config.Port, lets the operating system choose a free port.
const RandomPort = -1

// Config describes an embedded NATS server with JetStream.
//
// The zero value of a field means its default; only StoreDir has none.
type Config struct {
	// Host is the address clients connect to (default DefaultHost).
	Host string
	// Port is the client port (default DefaultPort; RandomPort picks a free one).
	Port int
	// StoreDir is where JetStream keeps its streams. Required: the stock
	// default is a directory shared by every process on the machine.
	StoreDir string
	// ServerName names the server in logs, monitoring and clusters
	// (default DefaultServerName, or in a cluster the machine's host name:
	// every node of a cluster needs a name of its own).
	ServerName string
	// ClientAdvertise is the host:port the server tells clients to reach
	// it at, instead of its listen address (a proxy, a NAT). Off by default.
	ClientAdvertise string

	// ClusterName, ClusterPort and Routes together make the server one node
	// of a JetStream cluster: every node has the same ClusterName, listens
	// for the other nodes on ClusterHost:ClusterPort, and lists the others'
	// cluster addresses in Routes (a node skips a route to itself, so every
	// node may get the same list). A cluster replicates streams on a
	// quorum: three nodes survive one failure. Off when all are zero.
	ClusterName string
	// ClusterHost is the address the other nodes connect to (default: every
	// interface).
	ClusterHost string
	// ClusterPort is the port the other nodes connect to (RandomPort picks
	// a free one).
	ClusterPort int
	// Routes are the other nodes' cluster URLs, nats://host:port.
	Routes []string
	// ClusterAdvertise is the host:port this node tells the other nodes
	// to reach it at, instead of its cluster listen address. Off by default.
	ClusterAdvertise string

	// SyncInterval is how often JetStream fsyncs its files (default the
	// server's, two minutes). A write acknowledged since the last fsync
	// lives only in the page cache of the nodes that stored it: a machine
	// that loses power loses it, a process that is killed does not.
	SyncInterval time.Duration
	// SyncAlways fsyncs every write before it is acknowledged, at a cost
	// in throughput. It excludes SyncInterval.
	SyncAlways bool
	// HTTPPort serves the monitoring endpoints (/varz, /jsz, ...) on Host
	// when non-zero; RandomPort picks a free one.
	HTTPPort int
	// User and Password, when set, are required of every client.
	User, Password string
	// Token, when set, is required of every client. It excludes User.
	Token string
	// TLSCert and TLSKey, when set, are the server's certificate and key
	// files (PEM): the client port then speaks TLS only, and ClientURL
	// says tls://. They override a config file's tls block.
	TLSCert, TLSKey string
	// TLSCA, with TLSCert, is a file of certificate authorities (PEM):
	// every client must present a certificate one of them signed.
	TLSCA string
	// MaxPayload is the largest message the server accepts, in bytes
	// (default DefaultMaxPayload).
	MaxPayload int32
	// ConfigFile is a standard nats-server configuration file read first;
	// the fields above that are set override what it says.
	ConfigFile string
	// Logger receives the server's log, Notice as Info, without the
	// JetStream ASCII banner (default slog.Default).
	Logger *slog.Logger
}

func (c Config) validate() error {
	if c.StoreDir == "" {
		return fmt.Errorf("%w: StoreDir is required", ErrInvalidConfig)
	}
	if c.Port < RandomPort || c.Port > 65535 {
		return fmt.Errorf("%w: Port %d out of range", ErrInvalidConfig, c.Port)
	}
	if c.HTTPPort < RandomPort || c.HTTPPort > 65535 {
		return fmt.Errorf("%w: HTTPPort %d out of range", ErrInvalidConfig, c.HTTPPort)
	}
	if c.Token != "" && c.User != "" {
		return fmt.Errorf("%w: Token and User are exclusive", ErrInvalidConfig)
	}
	if (c.User == "") != (c.Password == "") {
		return fmt.Errorf("%w: User and Password go together", ErrInvalidConfig)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return fmt.Errorf("%w: TLSCert and TLSKey go together", ErrInvalidConfig)
	}
	if c.TLSCA != "" && c.TLSCert == "" {
		return fmt.Errorf("%w: TLSCA needs TLSCert and TLSKey", ErrInvalidConfig)
	}
	if c.MaxPayload < 0 {
		return fmt.Errorf("%w: MaxPayload %d is negative", ErrInvalidConfig, c.MaxPayload)
	}
	if c.SyncInterval < 0 {
		return fmt.Errorf("%w: SyncInterval %v is negative", ErrInvalidConfig, c.SyncInterval)
	}
	if c.SyncAlways && c.SyncInterval != 0 {
		return fmt.Errorf("%w: SyncAlways and SyncInterval are exclusive", ErrInvalidConfig)
	}
	return c.validateCluster()
}

// validateCluster checks the cluster fields: none, or a name, a port and
// routes. With a config file, whose cluster block may hold the rest, only
// the fields given are checked.
func (c Config) validateCluster() error {
	for _, r := range c.Routes {
		if err := CheckRoute(r); err != nil {
			return fmt.Errorf("%w: Routes: %w", ErrInvalidConfig, err)
		}
	}
	if c.ClusterPort < RandomPort || c.ClusterPort > 65535 {
		return fmt.Errorf("%w: ClusterPort %d out of range", ErrInvalidConfig, c.ClusterPort)
	}
	if !c.clustered() || c.ConfigFile != "" {
		return nil
	}
	if c.ClusterName == "" || strings.ContainsAny(c.ClusterName, " \t\n") {
		return fmt.Errorf("%w: ClusterName %q: want a name without spaces", ErrInvalidConfig, c.ClusterName)
	}
	if c.ClusterPort == 0 {
		return fmt.Errorf("%w: ClusterPort: a cluster node needs a port for the other nodes", ErrInvalidConfig)
	}
	if len(c.Routes) == 0 {
		return fmt.Errorf("%w: Routes: a cluster node needs the other nodes' addresses", ErrInvalidConfig)
	}
	return nil
}

// clustered reports whether c asks for a cluster node.
func (c Config) clustered() bool {
	return c.ClusterName != "" || c.ClusterPort != 0 || len(c.Routes) > 0
}

// CheckRoute checks that route is a cluster URL a node can dial:
// nats://host:port or nats-route://host:port.
func CheckRoute(route string) error {
	u, err := url.Parse(route)
	if err != nil {
		return fmt.Errorf("route %q: %w", route, err)
	}
	if u.Scheme != "nats" && u.Scheme != "nats-route" {
		return fmt.Errorf("route %q: want nats://host:port", route)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return fmt.Errorf("route %q: want nats://host:port", route)
	}
	return nil
}

// DefaultStoreDir is where a broker binary keeps its data when not told:
// $XDG_STATE_HOME/drover/broker, or ~/.local/state/drover/broker.
func DefaultStoreDir() string {
	if dir := os.Getenv("XDG_STATE_HOME"); dir != "" {
		return filepath.Join(dir, "drover", "broker")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "drover", "broker")
	}
	return filepath.Join(os.TempDir(), "drover-broker")
}
