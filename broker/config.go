package broker

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
)

// Defaults applied to a zero Config field.
const (
	DefaultHost       = "127.0.0.1"
	DefaultPort       = 4222
	DefaultServerName = "drover"
	DefaultMaxPayload = 8 << 20 // 8 MiB: task messages and object chunks stay well below it
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
	// (default DefaultServerName).
	ServerName string
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
