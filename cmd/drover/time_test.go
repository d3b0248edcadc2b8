package main

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/timesvc"
)

// serveTime starts a time server on b whose clock is skew ahead.
func serveTime(t *testing.T, b *brokertest.Server, skew time.Duration) {
	t.Helper()
	srv, err := timesvc.Serve(b.Connect(), timesvc.Config{
		Clock:  func() time.Time { return time.Now().Add(skew) },
		Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
}

func TestTime(t *testing.T) {
	b := brokertest.Start(t)
	const skew = -3 * time.Second
	serveTime(t, b, skew)

	var stdout, stderr bytes.Buffer
	before := time.Now()
	code := exitCode(run(context.Background(), []string{"time", "--nats", b.ClientURL(), "--samples", "4"}, &stdout, &stderr), &stderr)
	after := time.Now()
	if code != 0 {
		t.Fatalf("drover time exit code = %d, stderr %q", code, stderr.String())
	}
	out := map[string]string{}
	for line := range strings.Lines(stdout.String()) {
		key, value, _ := strings.Cut(strings.TrimSpace(line), " ")
		out[key] = strings.TrimSpace(value)
	}

	offset, err := strconv.ParseFloat(strings.TrimSuffix(out["offset"], "s"), 64)
	if err != nil || !strings.HasPrefix(out["offset"], "-") {
		t.Fatalf("offset line %q: want a signed number of seconds (%v)\n%s", out["offset"], err, stdout.String())
	}
	bound, err := time.ParseDuration(strings.TrimPrefix(out["bound"], "±"))
	if err != nil || !strings.HasPrefix(out["bound"], "±") {
		t.Fatalf("bound line %q: want ±duration (%v)", out["bound"], err)
	}
	if _, err := time.ParseDuration(out["rtt"]); err != nil {
		t.Errorf("rtt line %q: %v", out["rtt"], err)
	}
	// Both are printed to the microsecond: half of one each, and a
	// nanosecond for the float.
	if miss := (time.Duration(offset*1e9) - skew).Abs(); miss > bound+time.Microsecond+time.Nanosecond {
		t.Errorf("offset %q misses the skew %v by %v, more than the bound %v", out["offset"], skew, miss, bound)
	}
	server, err := time.Parse(time.RFC3339Nano, out["server"])
	if err != nil {
		t.Fatalf("server line %q: %v", out["server"], err)
	}
	if lo, hi := before.Add(skew-time.Second), after.Add(skew+time.Second); server.Before(lo) || server.After(hi) {
		t.Errorf("server time %v, want about %v", server, before.Add(skew))
	}
	t.Logf("drover time:\n%s", stdout.String())
	if !strings.HasPrefix(out["samples"], "4, ") {
		t.Errorf("samples line %q, want 4 samples", out["samples"])
	}
}

func TestTimeErrors(t *testing.T) {
	b := brokertest.Start(t) // no time server on it
	url := b.ClientURL()
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{"no service", []string{"time", "--nats", url, "--timeout", "200ms"}, 1, "Time.Now"}, // no responders, or a timeout at the deadline
		{"zero samples", []string{"time", "--nats", url, "--samples", "0"}, 2, "--samples must be at least 1"},
		{"samples not a number", []string{"time", "--samples", "many"}, 2, "invalid value"},
		{"bad timeout", []string{"time", "--timeout", "0s"}, 2, "--timeout must be positive"},
		{"an argument", []string{"time", "now"}, 2, "time takes no arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			code := exitCode(run(ctx, tt.args, &stdout, &stderr), &stderr)
			if code != tt.wantCode {
				t.Errorf("exit code = %d, want %d (stderr %q)", code, tt.wantCode, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing", stdout.String())
			}
			// The error is one line, the last; only a flag the flag package
			// rejects comes after the flags' usage.
			if last := lastLine(stderr.String()); !strings.HasPrefix(last, "drover: ") || !strings.Contains(last, tt.wantStderr) {
				t.Errorf("stderr = %q, want it to end in one line saying %q", stderr.String(), tt.wantStderr)
			}
			if code == 1 && strings.Count(stderr.String(), "\n") != 1 {
				t.Errorf("stderr = %q, want one line", stderr.String())
			}
		})
	}
}
