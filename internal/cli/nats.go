package cli

import (
	"cmp"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
)

// NATSFlags are the connection flags of the nats CLI: --nats (else
// NATS_URL), --creds, --user/--password, --token and --tls-cert/--tls-key/--tls-ca.
type NATSFlags struct {
	URL      string
	Creds    string
	User     string
	Password string
	Token    string
	TLSCert  string
	TLSKey   string
	TLSCA    string
}

// Register adds the flags to fs.
func (f *NATSFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.URL, "nats", "", "NATS server URL(s), comma separated (default $NATS_URL)")
	fs.StringVar(&f.Creds, "creds", "", "NATS credentials file")
	fs.StringVar(&f.User, "user", "", "NATS user name")
	fs.StringVar(&f.Password, "password", "", "NATS password")
	fs.StringVar(&f.Token, "token", "", "NATS authentication token")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "client TLS certificate file")
	fs.StringVar(&f.TLSKey, "tls-key", "", "client TLS private key file")
	fs.StringVar(&f.TLSCA, "tls-ca", "", "TLS certificate authority file")
}

// ServerURL is --nats, else NATS_URL, else "".
func (f *NATSFlags) ServerURL() string { return cmp.Or(f.URL, os.Getenv("NATS_URL")) }

// Options turns the flags into nats.go options, with the client name given
// and reconnection that never gives up: Drover's binaries outlive a broker
// restart.
func (f *NATSFlags) Options(name string) []nats.Option {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if f.Creds != "" {
		opts = append(opts, nats.UserCredentials(f.Creds))
	}
	if f.User != "" {
		opts = append(opts, nats.UserInfo(f.User, f.Password))
	}
	if f.Token != "" {
		opts = append(opts, nats.Token(f.Token))
	}
	if f.TLSCert != "" || f.TLSKey != "" {
		opts = append(opts, nats.ClientCert(f.TLSCert, f.TLSKey))
	}
	if f.TLSCA != "" {
		opts = append(opts, nats.RootCAs(f.TLSCA))
	}
	return opts
}

// Connect dials the server the flags name, or nats://127.0.0.1:4222 as the
// nats CLI does when they name none.
func (f *NATSFlags) Connect(name string) (*nats.Conn, error) {
	url := cmp.Or(f.ServerURL(), nats.DefaultURL)
	nc, err := nats.Connect(url, f.Options(name)...)
	if err != nil {
		return nil, fmt.Errorf("connect to NATS at %s: %w", url, err)
	}
	return nc, nil
}
