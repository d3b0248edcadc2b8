package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/auth"
	"github.com/drover-dev/drover/rpcq"
)

// NATSFlags are the connection flags of the nats CLI: --nats (else
// NATS_URL), --creds (else NATS_CREDS), --nkey, --user/--password,
// --token and --tls-cert/--tls-key/--tls-ca.
type NATSFlags struct {
	URL      string
	Creds    string
	NKey     string // a file holding a user nkey seed
	User     string
	Password string
	Token    string
	TLSCert  string
	TLSKey   string
	TLSCA    string
	// InboxPrefix replaces _INBOX as the prefix of the inboxes replies
	// arrive on; with NKey and none given, the user's own (auth.InboxPrefix).
	InboxPrefix string
	Wait        time.Duration // the bound of ConnectWait; 0 for none
	// As is the Drover user whose jobs the master's calls see (see Caller).
	As string
}

// Register adds the flags to fs.
func (f *NATSFlags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.URL, "nats", "", "NATS server URL(s), comma separated (default $NATS_URL)")
	fs.StringVar(&f.Creds, "creds", "", "NATS credentials file (default $NATS_CREDS)")
	fs.StringVar(&f.NKey, "nkey", "", "NATS user nkey seed file, as 'drover auth init' writes")
	fs.StringVar(&f.User, "user", "", "NATS user name")
	fs.StringVar(&f.Password, "password", "", "NATS password")
	fs.StringVar(&f.Token, "token", "", "NATS authentication token")
	fs.StringVar(&f.TLSCert, "tls-cert", "", "client TLS certificate file")
	fs.StringVar(&f.TLSKey, "tls-key", "", "client TLS private key file")
	fs.StringVar(&f.TLSCA, "tls-ca", "", "TLS certificate authority file")
	fs.StringVar(&f.InboxPrefix, "inbox-prefix", "", "prefix of the inboxes replies arrive on (default _INBOX, or with --nkey the user's own)")
}

// RegisterAs adds --as, the Drover user a command calls the master as, to fs.
func (f *NATSFlags) RegisterAs(fs *flag.FlagSet) {
	fs.StringVar(&f.As, "as", "", "call the master as this user, who sees its own jobs alone (default $DROVER_AS, or the user --nkey's file names)")
}

// Caller is the name the master's calls carry (rpcq.ClientConfig.Caller):
// --as, else DROVER_AS, else the user the --nkey file of drover auth init
// names, for a role that sees its own jobs alone (auth.CallerIn); "" for
// none. Under drover auth init's permissions, a submitter can send its
// own name alone, and must.
func (f *NATSFlags) Caller() (string, error) {
	name := cmp.Or(f.As, os.Getenv("DROVER_AS"))
	if name == "" && f.NKey != "" {
		if seed, err := os.ReadFile(f.NKey); err == nil {
			name = auth.CallerIn(seed)
			clear(seed)
		}
	}
	if name != "" && !rpcq.ValidCaller(name) {
		return "", fmt.Errorf("--as %.80q: want 1 to %d letters, digits, '-' and '_'", name, rpcq.MaxCallerLen)
	}
	return name, nil
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
		// A server cut off without a word is noticed within 15 s, not
		// nats.go's default of minutes, so a client moves to another
		// node of a cluster.
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
	}
	if creds := f.creds(); creds != "" {
		opts = append(opts, nats.UserCredentials(creds))
	}
	if f.NKey != "" {
		opts = append(opts, nkeyFromSeedFile(f.NKey))
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
	if f.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(f.InboxPrefix))
	}
	return opts
}

// creds is --creds, else NATS_CREDS, as the nats CLI reads them.
func (f *NATSFlags) creds() string { return cmp.Or(f.Creds, os.Getenv("NATS_CREDS")) }

// nkeyFromSeedFile authenticates with the user nkey whose seed file is
// at path, taking replies on the user's own inboxes, the only ones a
// configuration of drover auth init lets it read. The file is read when
// the connection is made, so that a missing or bad one is the connect
// error, naming the file and never its content.
func nkeyFromSeedFile(path string) nats.Option {
	return func(o *nats.Options) error {
		opt, err := nats.NkeyOptionFromSeed(path)
		if err != nil {
			return fmt.Errorf("--nkey %s: %w", path, err)
		}
		if err := opt(o); err != nil {
			return err
		}
		return nats.CustomInboxPrefix(auth.InboxPrefix(o.Nkey))(o)
	}
}

// RegisterWait adds --connect-wait, the bound of ConnectWait, to fs.
func (f *NATSFlags) RegisterWait(fs *flag.FlagSet) {
	fs.DurationVar(&f.Wait, "connect-wait", 0, "how long to wait at start for the NATS server to answer (0: no limit)")
}

// url is the servers to dial: ServerURL, else nats://127.0.0.1:4222 as the
// nats CLI does when nothing names one.
func (f *NATSFlags) url() string { return cmp.Or(f.ServerURL(), nats.DefaultURL) }

// Connect dials the server the flags name, for a command that does one
// thing and exits: when no server answers it fails at once, saying so in
// one line.
func (f *NATSFlags) Connect(name string) (*nats.Conn, error) {
	nc, err := nats.Connect(f.url(), f.Options(name)...)
	if err != nil {
		return nil, f.connectError(err)
	}
	return nc, nil
}

// ConnectWait dials the server the flags name, for a daemon started beside
// its broker: while no server answers it logs that it waits and tries
// again, until ctx ends or --connect-wait passes. Any other failure, such
// as a refused credential, is returned at once.
func (f *NATSFlags) ConnectWait(ctx context.Context, name string, log *slog.Logger) (*nats.Conn, error) {
	start, lastLog := time.Now(), time.Time{}
	for delay := 100 * time.Millisecond; ; delay = min(2*delay, 2*time.Second) {
		nc, err := nats.Connect(f.url(), f.Options(name)...)
		if err == nil {
			if !lastLog.IsZero() {
				log.Info("NATS answered", "url", Redact(f.url()), "waited", time.Since(start).Round(time.Millisecond))
			}
			return nc, nil
		}
		if !errors.Is(err, nats.ErrNoServers) {
			return nil, f.connectError(err)
		}
		if f.Wait > 0 && time.Since(start) >= f.Wait {
			return nil, fmt.Errorf("no NATS server answered at %s within --connect-wait %v", Redact(f.url()), f.Wait)
		}
		if time.Since(lastLog) >= waitLogEvery {
			log.Info("waiting for NATS to answer", "url", Redact(f.url()))
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
	}
}

// waitLogEvery is how often ConnectWait says it is still waiting.
const waitLogEvery = 10 * time.Second

func (f *NATSFlags) connectError(err error) error {
	if errors.Is(err, nats.ErrNoServers) {
		return fmt.Errorf("no NATS server answers at %s", Redact(f.url()))
	}
	return fmt.Errorf("connect to NATS at %s: %w", Redact(f.url()), err)
}

// Redact is a comma-separated list of server URLs without their user
// information, for logs and errors: a password or token in a URL is a
// secret.
func Redact(urls string) string {
	list := strings.Split(urls, ",")
	for i, s := range list {
		s = strings.TrimSpace(s)
		if u, err := url.Parse(s); err == nil && u.User != nil {
			u.User = nil
			s = u.String()
		} else if at := strings.LastIndex(s, "@"); err != nil && at >= 0 {
			s = s[at+1:] // unparsable: keep only what follows the user information
		}
		list[i] = s
	}
	return strings.Join(list, ",")
}
