package broker_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
)

// userNKey makes a user nkey and returns its public key and a file
// holding its seed, for nats.NkeyOptionFromSeed.
func userNKey(t *testing.T) (public, seedFile string) {
	t.Helper()
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	public, _ = kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile = filepath.Join(t.TempDir(), "user.nk")
	if err := os.WriteFile(seedFile, seed, 0o600); err != nil {
		t.Fatal(err)
	}
	return public, seedFile
}

func nkeyOption(t *testing.T, seedFile string) nats.Option {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	return opt
}

// servesJetStream checks that a client with opts can create a stream,
// publish to it and read the message back.
func servesJetStream(t *testing.T, url string, opts ...nats.Option) {
	t.Helper()
	nc, err := nats.Connect(url, append(opts, nats.NoReconnect())...)
	if err != nil {
		t.Fatalf("connect with credentials: %v", err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}})
	if err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("x")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if msg, err := st.GetMsg(ctx, 1); err != nil || string(msg.Data) != "x" {
		t.Fatalf("GetMsg(1) = %v, %v; want x", msg, err)
	}
}

// refused checks that a client with opts is not let in.
func refused(t *testing.T, url string, opts ...nats.Option) {
	t.Helper()
	nc, err := nats.Connect(url, append(opts, nats.NoReconnect())...)
	if err == nil {
		nc.Close()
		t.Fatal("connect with wrong or no credentials succeeded")
	}
}

// TestConfigFileAuthorization: every form of authorization a stock
// nats-server takes in its config file starts the broker, which serves
// JetStream to the clients it admits and only to them.
func TestConfigFileAuthorization(t *testing.T) {
	pub, seed := userNKey(t)
	_, otherSeed := userNKey(t)
	tests := []struct {
		name string
		conf string
		good []nats.Option
		bad  []nats.Option
	}{
		{"token", `authorization { token: "abc" }`,
			[]nats.Option{nats.Token("abc")}, []nats.Option{nats.Token("abd")}},
		{"user and password", `authorization { user: alice, password: s3cret }`,
			[]nats.Option{nats.UserInfo("alice", "s3cret")}, []nats.Option{nats.UserInfo("alice", "wrong")}},
		{"users with permissions", `authorization {
			users: [
				{user: alice, password: a, permissions: {publish: ["s.>", "$JS.API.>"], subscribe: "_INBOX.>"}}
				{user: bob, password: b, permissions: {publish: "nothing"}}
			]
		}`, []nats.Option{nats.UserInfo("alice", "a")}, []nats.Option{nats.UserInfo("carol", "c")}},
		{"nkey users", fmt.Sprintf(`authorization { users: [ {nkey: %s} ] }`, pub),
			[]nats.Option{nkeyOption(t, seed)}, []nats.Option{nkeyOption(t, otherSeed)}},
		{"accounts with JetStream", fmt.Sprintf(`accounts {
			APP: { jetstream: enabled, users: [ {nkey: %s, permissions: {publish: ["s.>", "$JS.API.>"], subscribe: "_INBOX.>"}} ] }
			OTHER: { users: [ {user: other, password: o} ] }
		}`, pub), []nats.Option{nkeyOption(t, seed)}, []nats.Option{nkeyOption(t, otherSeed)}},
		{"accounts with a system account", `accounts {
			APP: { jetstream: { max_mem: 64MB, max_file: 1GB }, users: [ {user: app, password: a} ] }
			SYS: { users: [ {user: sys, password: s} ] }
		}
		system_account: SYS`, []nats.Option{nats.UserInfo("app", "a")}, []nats.Option{nats.UserInfo("app", "b")}},
		{"no_auth_user", `accounts { APP: { jetstream: enabled, users: [ {user: app, password: a} ] } }
		no_auth_user: app`, nil, []nats.Option{nats.UserInfo("app", "b")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := start(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), ConfigFile: brokertest.ConfigFile(t, tt.conf)})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			servesJetStream(t, b.ClientURL(), tt.good...)
			refused(t, b.ClientURL(), tt.bad...)
			if tt.good != nil {
				refused(t, b.ClientURL())
			}
		})
	}
}

// TestAccountsKeepStreamsApart: a stream one account makes is not seen
// from another.
func TestAccountsKeepStreamsApart(t *testing.T) {
	conf := brokertest.ConfigFile(t, `accounts {
		A: { jetstream: enabled, users: [ {user: a, password: a} ] }
		B: { jetstream: enabled, users: [ {user: b, password: b} ] }
	}`)
	b, err := start(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), ConfigFile: conf})
	if err != nil {
		t.Fatal(err)
	}
	servesJetStream(t, b.ClientURL(), nats.UserInfo("a", "a"))
	nc, err := b.Connect(nats.UserInfo("b", "b"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.Stream(ctx, "S"); err == nil {
		t.Error("account B sees account A's stream S")
	}
}

// TestTLS: with a certificate the client port speaks TLS only; with a CA
// it also requires a client certificate that CA signed.
func TestTLS(t *testing.T) {
	certs := brokertest.NewCerts(t)
	t.Run("server certificate", func(t *testing.T) {
		b, err := start(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), TLSCert: certs.ServerCert, TLSKey: certs.ServerKey})
		if err != nil {
			t.Fatal(err)
		}
		if url := b.ClientURL(); !strings.HasPrefix(url, "tls://") {
			t.Fatalf("ClientURL() = %q, want tls://", url)
		}
		servesJetStream(t, b.ClientURL(), nats.RootCAs(certs.CA))
		// A nats:// URL with only the CA named still speaks TLS.
		servesJetStream(t, strings.Replace(b.ClientURL(), "tls://", "nats://", 1), nats.RootCAs(certs.CA))
		refused(t, b.ClientURL()) // the system roots do not know our CA
	})
	t.Run("client certificates", func(t *testing.T) {
		b, err := start(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), TLSCert: certs.ServerCert, TLSKey: certs.ServerKey, TLSCA: certs.CA})
		if err != nil {
			t.Fatal(err)
		}
		servesJetStream(t, b.ClientURL(), certs.ClientOptions()...)
		refused(t, b.ClientURL(), nats.RootCAs(certs.CA))
		refused(t, b.ClientURL(), nats.RootCAs(certs.CA), nats.ClientCert(certs.StrangerCert, certs.StrangerKey))
	})
	t.Run("with authorization", func(t *testing.T) {
		conf := brokertest.ConfigFile(t, `authorization { token: "abc" }`)
		b, err := start(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), ConfigFile: conf, TLSCert: certs.ServerCert, TLSKey: certs.ServerKey, TLSCA: certs.CA})
		if err != nil {
			t.Fatal(err)
		}
		servesJetStream(t, b.ClientURL(), append(certs.ClientOptions(), nats.Token("abc"))...)
		refused(t, b.ClientURL(), certs.ClientOptions()...)
	})
}

func TestTLSConfigErrors(t *testing.T) {
	certs := brokertest.NewCerts(t)
	tests := []struct {
		name string
		cfg  broker.Config
		want string
	}{
		{"cert without key", broker.Config{TLSCert: certs.ServerCert}, "go together"},
		{"CA without cert", broker.Config{TLSCA: certs.CA}, "needs TLSCert"},
		{"missing cert file", broker.Config{TLSCert: certs.ServerCert + ".nope", TLSKey: certs.ServerKey}, "tls"},
		{"key of another cert", broker.Config{TLSCert: certs.ServerCert, TLSKey: certs.ClientKey}, "tls"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Port, tt.cfg.StoreDir = broker.RandomPort, t.TempDir()
			_, err := start(t, tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Start() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
