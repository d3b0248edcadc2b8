package broker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func start(t *testing.T, cfg broker.Config) (*broker.Broker, error) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	b, err := broker.Start(ctx, cfg)
	if err == nil {
		t.Cleanup(b.Close)
	}
	return b, err
}

// mustStart starts a broker and connects to it, failing t on error.
func mustStart(t *testing.T, cfg broker.Config) (*broker.Broker, *nats.Conn) {
	t.Helper()
	b, err := start(t, cfg)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := b.Connect()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return b, nc
}

func TestStartServesJetStream(t *testing.T) {
	b, nc := mustStart(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir()})
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("x")); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	b.Close()
	b.Close() // idempotent
}

func TestStartErrors(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyPort := busy.Addr().(*net.TCPAddr).Port

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	badConf := filepath.Join(t.TempDir(), "bad.conf")
	if err := os.WriteFile(badConf, []byte("port: {{{"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		cfg  broker.Config
		want string
	}{
		{"no store", broker.Config{Port: broker.RandomPort}, "storedir is required"},
		{"port in use", broker.Config{Port: busyPort, StoreDir: t.TempDir()}, "listen"},
		{"store is a file", broker.Config{Port: broker.RandomPort, StoreDir: file}, "store"},
		{"bad config file", broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), ConfigFile: badConf}, "config file"},
		{"missing config file", broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), ConfigFile: badConf + ".nope"}, "config file"},
		{"token and user", broker.Config{StoreDir: t.TempDir(), Token: "t", User: "u", Password: "p"}, "exclusive"},
		{"port out of range", broker.Config{StoreDir: t.TempDir(), Port: 70000}, "out of range"},
		{"sync always and interval", broker.Config{StoreDir: t.TempDir(), SyncAlways: true, SyncInterval: time.Second}, "exclusive"},
		{"negative sync interval", broker.Config{StoreDir: t.TempDir(), SyncInterval: -time.Second}, "negative"},
		{"cluster without name", broker.Config{StoreDir: t.TempDir(), ClusterPort: broker.RandomPort, Routes: []string{"nats://127.0.0.1:6222"}}, "clustername"},
		{"cluster name with a space", broker.Config{StoreDir: t.TempDir(), ClusterName: "a b", ClusterPort: 6222, Routes: []string{"nats://127.0.0.1:6222"}}, "clustername"},
		{"cluster without port", broker.Config{StoreDir: t.TempDir(), ClusterName: "c", Routes: []string{"nats://127.0.0.1:6222"}}, "clusterport"},
		{"cluster without routes", broker.Config{StoreDir: t.TempDir(), ClusterName: "c", ClusterPort: broker.RandomPort}, "routes"},
		{"route without port", broker.Config{StoreDir: t.TempDir(), ClusterName: "c", ClusterPort: broker.RandomPort, Routes: []string{"nats://h1"}}, "want nats://host:port"},
		{"route of another scheme", broker.Config{StoreDir: t.TempDir(), ClusterName: "c", ClusterPort: broker.RandomPort, Routes: []string{"http://h1:6222"}}, "want nats://host:port"},
		{"cluster port out of range", broker.Config{StoreDir: t.TempDir(), ClusterName: "c", ClusterPort: 70000, Routes: []string{"nats://h1:6222"}}, "out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := start(t, tt.cfg)
			if err == nil || !strings.Contains(strings.ToLower(err.Error()), tt.want) {
				t.Fatalf("Start() error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name string
		cfg  broker.Config
		good nats.Option
	}{
		{"user", broker.Config{User: "alice", Password: "s3cret"}, nats.UserInfo("alice", "s3cret")},
		{"token", broker.Config{Token: "t0ken"}, nats.Token("t0ken")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Port, tt.cfg.StoreDir = broker.RandomPort, t.TempDir()
			b, err := start(t, tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if nc, err := nats.Connect(b.ClientURL(), nats.NoReconnect()); err == nil {
				nc.Close()
				t.Fatal("connect without credentials succeeded")
			}
			nc, err := nats.Connect(b.ClientURL(), tt.good)
			if err != nil {
				t.Fatalf("connect with credentials: %v", err)
			}
			nc.Close()
		})
	}
}

func TestConfigFileAndOverrides(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(conf, []byte("max_payload: 2MB\nserver_name: from-file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b, nc := mustStart(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), ConfigFile: conf, ServerName: "override"})
	if got, want := nc.MaxPayload(), int64(2<<20); got != want {
		t.Errorf("MaxPayload() = %d, want %d (from the file)", got, want)
	}
	if got := b.Server().Name(); got != "override" {
		t.Errorf("Name() = %q, want %q (Config beats the file)", got, "override")
	}
}

func TestMaxPayloadAndMonitoring(t *testing.T) {
	b, nc := mustStart(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), MaxPayload: 4096, HTTPPort: broker.RandomPort})
	if got := nc.MaxPayload(); got != 4096 {
		t.Errorf("MaxPayload() = %d, want 4096", got)
	}
	addr := b.Server().MonitorAddr()
	if addr == nil {
		t.Fatal("no monitoring listener")
	}
	resp, err := http.Get(fmt.Sprintf("http://%s/jsz", addr))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "config") {
		t.Errorf("GET /jsz = %d %.80s", resp.StatusCode, body)
	}
}

// syncBuffer is a bytes.Buffer that the server's goroutines may log into.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// isBanner reports whether msg is a line of the JetStream banner: ASCII art
// (nothing but "_|/\" and blanks, the banner's empty lines included) or the
// documentation link under it.
func isBanner(msg string) bool {
	return strings.Trim(msg, `_|/\ `) == "" || strings.Contains(msg, "docs.nats.io/jetstream")
}

func TestLogHasNoBanner(t *testing.T) {
	var out syncBuffer
	b, err := start(t, broker.Config{Port: broker.RandomPort, StoreDir: t.TempDir(), Logger: slog.New(slog.NewJSONHandler(&out, nil))})
	if err != nil {
		t.Fatal(err)
	}
	b.Close() // every startup notice is out
	var msgs []string
	for line := range strings.Lines(out.String()) {
		var rec struct{ Msg string }
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		msgs = append(msgs, rec.Msg)
		if isBanner(rec.Msg) {
			t.Errorf("log line %q is the banner", rec.Msg)
		}
	}
	for _, want := range []string{"Version:", "Listening for client connections on", "Store Directory:"} {
		if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, want) }) {
			t.Errorf("no log line contains %q; log:\n%s", want, strings.Join(msgs, "\n"))
		}
	}
}

func TestRestartKeepsStoreAndPort(t *testing.T) {
	s := brokertest.Start(t)
	nc := s.Connect()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, "s.1", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	port := s.Port()
	s.Restart()
	if s.Port() != port {
		t.Fatalf("port after Restart = %d, want %d", s.Port(), port)
	}
	if got, want := nc.ConnectedServerId(), s.Server().ID(); got != want {
		t.Fatalf("after Restart, connected to server %q, want the new one %q", got, want)
	}
	// No polling: the new server restored the stream before it listened,
	// and Restart returned only once nc was back, so the first request is
	// answered. A request sent while nc still believed itself connected to
	// the old server would be lost, and waited for until ctx ended.
	st, err := js.Stream(ctx, "S")
	if err != nil {
		t.Fatalf("Stream(S) after restart: %v", err)
	}
	msg, err := st.GetMsg(ctx, 1)
	if err != nil {
		t.Fatalf("GetMsg(1) after restart: %v", err)
	}
	if string(msg.Data) != "kept" {
		t.Fatalf("message after restart = %q, want %q", msg.Data, "kept")
	}
}

func TestRestartSkipsClosedConnections(t *testing.T) {
	s := brokertest.Start(t)
	s.Connect().Close()
	once := s.Connect(nats.NoReconnect())
	back := s.Connect()
	s.Restart() // fails t if it waits for once or the closed one
	if !once.IsClosed() {
		t.Errorf("connection without reconnection is %v after Restart, want closed", once.Status())
	}
	if got, want := back.ConnectedServerId(), s.Server().ID(); got != want {
		t.Errorf("after Restart, connected to server %q, want the new one %q", got, want)
	}
}

func TestWaitForFails(t *testing.T) {
	ft := &fakeT{TB: t}
	brokertest.WaitFor(ft, 20*time.Millisecond, func() bool { return false }, "never %s", "true")
	if !errors.Is(ft.err, errFatal) || !strings.Contains(ft.msg, "never true not met") {
		t.Fatalf("WaitFor on a false condition: msg %q", ft.msg)
	}
}

var errFatal = errors.New("fatal")

type fakeT struct {
	testing.TB
	msg string
	err error
}

func (f *fakeT) Helper() {}
func (f *fakeT) Fatalf(format string, args ...any) {
	f.msg, f.err = fmt.Sprintf(format, args...), errFatal
}
