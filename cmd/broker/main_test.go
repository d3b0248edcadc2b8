package main

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/testutil"
)

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestRunServesUntilCancelled(t *testing.T) {
	addr := freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testutil.SyncBuffer
	go func() {
		done <- run(ctx, []string{"--listen", addr, "--store", t.TempDir(), "--log-format", "json"}, &logs, &logs)
	}()
	brokertest.WaitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "broker ready") }, "the ready log line")
	nc, err := nats.Connect("nats://"+addr, nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if _, err := nc.JetStream(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("run after SIGINT = %v, want nil", err)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "nope"}, "--listen"},
		{[]string{"--listen", "127.0.0.1:http"}, "port is not a number"},
		{[]string{"--log-level", "loud"}, "--log-level"},
		{[]string{"stray"}, "unexpected argument"},
		{[]string{"--listen", "127.0.0.1:0", "--store", "", "--name", "x"}, "StoreDir"},
		{[]string{"--tls-cert", "c.pem"}, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-ca", "ca.pem"}, "--tls-ca needs --tls-cert"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stderr, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}

// runUntilReady runs the broker with args until the test ends, and
// returns once it says it is ready.
func runUntilReady(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var logs testutil.SyncBuffer
	go func() { done <- run(ctx, append(args, "--log-format", "json"), &logs, &logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after SIGINT = %v, want nil", err)
		}
	})
	brokertest.WaitFor(t, 10*time.Second, func() bool {
		select {
		case err := <-done:
			done <- err
			return true
		default:
		}
		return strings.Contains(logs.String(), "broker ready")
	}, "the ready log line")
	if !strings.Contains(logs.String(), "broker ready") {
		t.Fatalf("broker ended before it was ready: %s", logs.String())
	}
}

// TestRunWithAuthorizationConfig: a config file's token admits clients,
// and the broker stays up with no credentials of its own.
func TestRunWithAuthorizationConfig(t *testing.T) {
	addr := freePort(t)
	conf := brokertest.ConfigFile(t, `authorization { token: "abc" }`)
	runUntilReady(t, "--listen", addr, "--store", t.TempDir(), "--config", conf)
	if nc, err := nats.Connect("nats://"+addr, nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("connect without the token succeeded")
	}
	nc, err := nats.Connect("nats://"+addr, nats.Token("abc"), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := nc.JetStream()
	if _, err := js.AccountInfo(); err != nil {
		t.Fatalf("AccountInfo: %v", err)
	}
}

// TestRunConfigFileListen: without --listen, the file's listen holds.
func TestRunConfigFileListen(t *testing.T) {
	addr := freePort(t)
	conf := brokertest.ConfigFile(t, "listen: "+addr+"\nmax_payload: 2MB\n")
	runUntilReady(t, "--store", t.TempDir(), "--config", conf)
	nc, err := nats.Connect("nats://"+addr, nats.NoReconnect())
	if err != nil {
		t.Fatalf("connect to the file's listen address: %v", err)
	}
	defer nc.Close()
	if got := nc.MaxPayload(); got != 2<<20 {
		t.Errorf("MaxPayload() = %d, want the file's 2 MiB", got)
	}
}

// TestRunTLS: --tls-cert and --tls-key serve TLS; --tls-ca also requires
// a client certificate.
func TestRunTLS(t *testing.T) {
	certs := brokertest.NewCerts(t)
	addr := freePort(t)
	runUntilReady(t, "--listen", addr, "--store", t.TempDir(), "--tls-cert", certs.ServerCert, "--tls-key", certs.ServerKey, "--tls-ca", certs.CA)
	if nc, err := nats.Connect("tls://"+addr, nats.RootCAs(certs.CA), nats.NoReconnect()); err == nil {
		nc.Close()
		t.Fatal("connect without a client certificate succeeded")
	}
	nc, err := nats.Connect("tls://"+addr, append(certs.ClientOptions(), nats.NoReconnect())...)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}
