package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/cli"
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
		{[]string{"--cluster", "nope"}, "--cluster"},
		{[]string{"--cluster", "127.0.0.1:0", "--cluster-name", "c", "--routes", "nats://h:6222"}, "want a port from 1 to 65535"},
		{[]string{"--cluster", "127.0.0.1:6222"}, "--cluster-name, --cluster and --routes go together"},
		{[]string{"--cluster-name", "c", "--routes", "nats://h:6222"}, "--cluster-name, --cluster and --routes go together"},
		{[]string{"--cluster-name", "a b"}, "--cluster-name"},
		{[]string{"--routes", "nats://h1:6222,h2:6222"}, "--routes"},
		{[]string{"--routes", "nats://h1"}, "--routes"},
		{[]string{"--sync-interval", "often"}, "--sync-interval"},
		{[]string{"--sync-interval", "0s"}, "--sync-interval"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stderr, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
		if code, _ := cli.Exit("broker", err, false); err != nil && strings.HasPrefix(tt.want, "--") && code != cli.ExitUsage {
			t.Errorf("run(%q) = %v, exit code %d, want %d (usage)", tt.args, err, code, cli.ExitUsage)
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

// TestRunCluster: three brokers started with the cluster flags form a
// JetStream cluster that replicates a stream on all three, whichever
// starts first.
func TestRunCluster(t *testing.T) {
	var addrs, routes []string
	for range 3 {
		addrs = append(addrs, freePort(t))
		routes = append(routes, "nats://"+freePort(t))
	}
	done := make(chan bool, 3)
	for i := range 3 {
		go func() {
			defer func() { done <- true }() // runUntilReady may end this goroutine with t.Fatal
			runUntilReady(t, "--listen", addrs[i], "--store", t.TempDir(), "--name", fmt.Sprint("n", i),
				"--cluster-name", "c", "--cluster", strings.TrimPrefix(routes[i], "nats://"),
				"--routes", strings.Join(routes, ","), "--sync-interval", "always")
		}()
	}
	for range 3 {
		<-done
	}
	if t.Failed() {
		return
	}
	nc, err := nats.Connect("nats://"+strings.Join(addrs, ",nats://"), nats.NoReconnect())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, Replicas: 3})
	if err != nil {
		t.Fatalf("CreateStream R3: %v", err)
	}
	if got := len(s.CachedInfo().Cluster.Replicas); got != 2 {
		t.Errorf("stream S has %d replicas besides its leader, want 2", got)
	}
}
