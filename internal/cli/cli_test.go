package cli

import (
	"bytes"
	"flag"
	"io"
	"slices"
	"strings"
	"testing"
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
