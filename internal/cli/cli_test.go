package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/drover-dev/drover/broker"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/testutil"
)

func TestParseInterleaved(t *testing.T) {
	tests := []struct {
		args    []string
		wantPos []string
		wantT   string
	}{
		{[]string{"a", "--t", "x", "b"}, []string{"a", "b"}, "x"},
		{[]string{"--t", "y", "a"}, []string{"a"}, "y"},
		{[]string{"a", "--", "--t", "z"}, []string{"a", "--t", "z"}, ""},
		{nil, nil, ""},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("x", flag.ContinueOnError)
		v := fs.String("t", "", "")
		pos, err := Parse(fs, tt.args)
		if err != nil || !slices.Equal(pos, tt.wantPos) || *v != tt.wantT {
			t.Errorf("Parse(%q) = %q, t=%q, %v; want %q, t=%q", tt.args, pos, *v, err, tt.wantPos, tt.wantT)
		}
	}
}

func TestLogFlags(t *testing.T) {
	var buf bytes.Buffer
	f := LogFlags{Format: "json", Level: "warn"}
	log, err := f.Logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown")
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Errorf("json warn logger wrote %q", out)
	}
	for _, bad := range []LogFlags{{Format: "xml", Level: "info"}, {Format: "text", Level: "loud"}} {
		if _, err := bad.Logger(io.Discard); err == nil {
			t.Errorf("Logger(%+v) succeeded", bad)
		}
	}
}

func TestServerURL(t *testing.T) {
	t.Setenv("NATS_URL", "nats://from-env:4222")
	f := NATSFlags{}
	if got := f.ServerURL(); got != "nats://from-env:4222" {
		t.Errorf("ServerURL() with NATS_URL = %q", got)
	}
	f.URL = "nats://flag:4222"
	if got := f.ServerURL(); got != "nats://flag:4222" {
		t.Errorf("ServerURL() with --nats = %q, want the flag", got)
	}
}

func TestExit(t *testing.T) {
	tests := []struct {
		name        string
		err         error
		interrupted bool
		wantCode    int
		wantLine    string
	}{
		{"success", nil, false, ExitOK, ""},
		{"help", flag.ErrHelp, false, ExitOK, ""},
		{"version", ErrVersion, false, ExitOK, ""},
		{"failure", errors.New("x: no such file"), false, ExitFailure, "bin: no such file"},
		{"usage", Usagef("--slots 0: want at least 1"), false, ExitUsage, "bin: --slots 0: want at least 1"},
		{"interrupted", context.Canceled, true, ExitInterrupted, "bin: interrupted"},
		{"usage wrapped", fmt.Errorf("parse: %w", Usagef("bad")), false, ExitUsage, "bin: parse: bad"},
		{"clean stop", nil, true, ExitOK, ""},
		{"panic", &PanicError{Value: "boom"}, false, ExitFailure, "bin: internal error: boom"},
		{"two lines", errors.New("a\nb"), false, ExitFailure, "bin: a b"},
	}
	for _, tt := range tests {
		code, line := Exit("bin", tt.err, tt.interrupted, "x: ")
		if code != tt.wantCode || line != tt.wantLine {
			t.Errorf("%s: Exit(%v, %v) = %d, %q; want %d, %q", tt.name, tt.err, tt.interrupted, code, line, tt.wantCode, tt.wantLine)
		}
	}
}

func TestParseVersionAndBadFlag(t *testing.T) {
	var out bytes.Buffer
	fs := NewFlagSet("bin", "[flags]", "Does a thing.", &out)
	fs.Int("n", 1, "a number")
	if _, err := Parse(fs, []string{"--version"}); !errors.Is(err, ErrVersion) {
		t.Errorf("Parse(--version) = %v, want ErrVersion", err)
	}
	var usage *UsageError
	if _, err := Parse(fs, []string{"--n", "x"}); !errors.As(err, &usage) {
		t.Errorf("Parse(--n x) = %v, want a *UsageError", err)
	}
	if out.Len() != 0 {
		t.Errorf("a bad flag printed %q; only -h prints the page", out.String())
	}
	if _, err := Parse(fs, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("Parse(-h) = %v, want flag.ErrHelp", err)
	}
	if page := out.String(); !strings.HasPrefix(page, "Usage: bin [flags]\n\nDoes a thing.\n\nFlags:\n") || !strings.Contains(page, "-version") {
		t.Errorf("-h page = %q", page)
	}
}

func TestVersionLine(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.modified", Value: "true"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"},
	}}
	if got, want := versionLine("worker", bi), "worker v1.2.3 rev 0123456789ab+modified 2026-12-01T10:00:00Z go1.26.8"; got != want {
		t.Errorf("versionLine = %q, want %q", got, want)
	}
	if got := Version("worker"); !strings.HasPrefix(got, "worker ") || !strings.Contains(got, "go1.") {
		t.Errorf("Version = %q", got)
	}
}

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://alice:s3cret@h1:4222,nats://tok3n@h2:4222", "nats://h1:4222,nats://h2:4222"},
		{"tls://bob:pw@[::1]:4222", "tls://[::1]:4222"},
		{"nats://al ice:s3cret%zz@h:1", "h:1"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestConnectFailsFastWithoutServer(t *testing.T) {
	f := NATSFlags{URL: "nats://alice:s3cret@" + deadAddr(t)}
	start := time.Now()
	_, err := f.Connect("test")
	if err == nil || !strings.Contains(err.Error(), "no NATS server answers at nats://127.0.0.1:") || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("Connect to nothing = %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Connect to nothing took %v", d)
	}
}

func TestConnectWaitWaitsForTheServer(t *testing.T) {
	addr := deadAddr(t)
	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	f := NATSFlags{URL: "nats://" + addr, Wait: 300 * time.Millisecond}
	if _, err := f.ConnectWait(context.Background(), "test", log); err == nil || !strings.Contains(err.Error(), "within --connect-wait 300ms") {
		t.Fatalf("ConnectWait with nothing there = %v", err)
	}

	f.Wait = 0
	type result struct {
		nc  *nats.Conn
		err error
	}
	done := make(chan result, 1)
	go func() {
		nc, err := f.ConnectWait(context.Background(), "test", log)
		done <- result{nc, err}
	}()
	brokertest.WaitFor(t, 10*time.Second, func() bool { return strings.Contains(logs.String(), "waiting for NATS to answer") }, "the waiting log line")
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	brokertest.Start(t, broker.Config{Host: host, Port: p})
	r := <-done
	if r.err != nil {
		t.Fatalf("ConnectWait once the broker is up = %v", r.err)
	}
	r.nc.Close()
	if !strings.Contains(logs.String(), "NATS answered") {
		t.Errorf("logs = %q, want the line saying NATS answered", logs.String())
	}
}

// deadAddr is a loopback address where nothing listens.
func deadAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestNKeyAndCreds: --nkey authenticates with a seed file; a missing one
// is the connect error, naming the file; --creds falls back on
// NATS_CREDS, as the nats CLI does.
func TestNKeyAndCreds(t *testing.T) {
	kp, err := nkeys.CreateUser()
	if err != nil {
		t.Fatal(err)
	}
	public, _ := kp.PublicKey()
	seed, _ := kp.Seed()
	seedFile := filepath.Join(t.TempDir(), "worker.nk")
	if err := os.WriteFile(seedFile, append(seed, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := brokertest.ConfigFile(t, "authorization { users: [ {nkey: "+public+"} ] }")
	b := brokertest.Start(t, broker.Config{ConfigFile: conf})

	f := NATSFlags{URL: b.ClientURL(), NKey: seedFile}
	nc, err := f.Connect("test")
	if err != nil {
		t.Fatalf("Connect with --nkey: %v", err)
	}
	nc.Close()

	f.NKey = seedFile + ".missing"
	if _, err := f.Connect("test"); err == nil || !strings.Contains(err.Error(), "--nkey "+f.NKey) {
		t.Errorf("Connect with a missing --nkey file = %v, want an error naming it", err)
	}
	if _, err := (&NATSFlags{URL: b.ClientURL()}).Connect("test"); err == nil {
		t.Error("Connect without credentials succeeded")
	}

	missing := filepath.Join(t.TempDir(), "from-env.creds")
	t.Setenv("NATS_CREDS", missing)
	if _, err := (&NATSFlags{URL: b.ClientURL()}).Connect("test"); err == nil || !strings.Contains(err.Error(), missing) {
		t.Errorf("Connect with NATS_CREDS set = %v, want it to read %s", err, missing)
	}
	flagged := filepath.Join(t.TempDir(), "from-flag.creds")
	if _, err := (&NATSFlags{URL: b.ClientURL(), Creds: flagged}).Connect("test"); err == nil || !strings.Contains(err.Error(), flagged) {
		t.Errorf("Connect with --creds and NATS_CREDS = %v, want --creds %s to win", err, flagged)
	}
}

// TestCaller: --as, else DROVER_AS, else the name a seed file of drover
// auth init gives its submitter; a name that cannot be one is an error.
func TestCaller(t *testing.T) {
	dir := t.TempDir()
	named := filepath.Join(dir, "alice.nk")
	os.WriteFile(named, []byte("# drover-as: alice\nSUxxxx\n"), 0o600)
	plain := filepath.Join(dir, "reader.nk")
	os.WriteFile(plain, []byte("SUxxxx\n"), 0o600)
	tests := []struct {
		flags NATSFlags
		env   string
		want  string
	}{
		{NATSFlags{}, "", ""},
		{NATSFlags{NKey: named}, "", "alice"},
		{NATSFlags{NKey: plain}, "", ""},
		{NATSFlags{NKey: filepath.Join(dir, "missing.nk")}, "", ""},
		{NATSFlags{NKey: named}, "bob", "bob"},
		{NATSFlags{NKey: named, As: "carol"}, "bob", "carol"},
	}
	for _, tt := range tests {
		t.Setenv("DROVER_AS", tt.env)
		if got, err := tt.flags.Caller(); got != tt.want || err != nil {
			t.Errorf("Caller of %+v with DROVER_AS=%q = %q, %v; want %q", tt.flags, tt.env, got, err, tt.want)
		}
	}
	t.Setenv("DROVER_AS", "")
	if _, err := (&NATSFlags{As: "a.b"}).Caller(); err == nil {
		t.Error("--as a.b: no error")
	}
}
