package main

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/rpcq"
)

type sumArgs struct{ Numbers []int }

func serveSum(t *testing.T, b *brokertest.Server) {
	t.Helper()
	srv, err := rpcq.NewServer(b.Connect(), rpcq.ServerConfig{Name: "Calc"})
	if err != nil {
		t.Fatal(err)
	}
	rpcq.HandleFunc(srv, "Sum", func(ctx context.Context, a sumArgs) (map[string]int, error) {
		if len(a.Numbers) == 0 {
			return nil, rpcq.Errorf(rpcq.CodeBadRequest, "no numbers")
		}
		total := 0
		for _, n := range a.Numbers {
			total += n
		}
		return map[string]int{"Total": total}, nil
	})
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
}

func TestCall(t *testing.T) {
	b := brokertest.Start(t)
	serveSum(t, b)
	url := b.ClientURL()

	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantOut    string
		wantStderr string
	}{
		{"reply", []string{"call", "Calc.Sum", `{"Numbers":[1,2,3]}`, "--nats", url}, 0, "{\n  \"Total\": 6\n}\n", ""},
		{"no argument", []string{"call", "--nats", url, "Calc.Sum"}, 1, "", "remote error 400: no numbers"},
		{"unknown method", []string{"call", "--nats", url, "Calc.Product", `{}`}, 1, "", "remote error 404: service Calc has no method Product"},
		{"no such service", []string{"call", "--nats", url, "--timeout", "200ms", "Nope.Sum", `{}`}, 1, "", "no responders for Nope.Sum"},
		{"bad json", []string{"call", "--nats", url, "Calc.Sum", `{`}, 2, "", "not valid JSON"},
		{"bad mode", []string{"call", "--nats", url, "--mode", "twice", "Calc.Sum"}, 2, "", "unknown mode"},
		{"bad flag", []string{"call", "--bogus"}, 2, "", "flag provided but not defined"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
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
			if tt.wantOut != "" && stdout.String() != tt.wantOut {
				t.Errorf("stdout = %q, want %q", stdout.String(), tt.wantOut)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
			if code != 0 && strings.Count(strings.TrimSpace(lastLine(stderr.String())), "\n") != 0 {
				t.Errorf("error is not one line: %q", stderr.String())
			}
		})
	}
}

func lastLine(s string) string {
	s = strings.TrimRight(s, "\n")
	return s[strings.LastIndex(s, "\n")+1:]
}

func TestHelp(t *testing.T) {
	var stderr bytes.Buffer
	if code := exitCode(run(context.Background(), []string{"help"}, io.Discard, &stderr), &stderr); code != 0 {
		t.Errorf("drover help exit code = %d", code)
	}
	if !strings.Contains(stderr.String(), "call") {
		t.Errorf("help lists no commands: %q", stderr.String())
	}
}

// TestCommandHelp: every command's -h opens with what it does and shows
// each flag's default, --speculation's off included.
func TestCommandHelp(t *testing.T) {
	for _, c := range commands {
		var stderr bytes.Buffer
		if code := exitCode(run(context.Background(), []string{c.name, "-h"}, io.Discard, &stderr), &stderr); code != 0 {
			t.Errorf("drover %s -h: exit %d", c.name, code)
		}
		page := stderr.String()
		if strings.Contains(page, "\nCommands:\n") { // a group: its commands say what they do
			continue
		}
		if !strings.HasPrefix(page, "Usage: drover "+c.name) || !strings.Contains(page, c.summary) {
			t.Errorf("drover %s -h =\n%s\nwant the usage line and %q", c.name, page, c.summary)
		}
	}
	var stderr bytes.Buffer
	run(context.Background(), []string{"submit", "-h"}, io.Discard, &stderr)
	if !strings.Contains(stderr.String(), "(default off)") {
		t.Errorf("drover submit -h does not show --speculation's default:\n%s", stderr.String())
	}
	var stdout bytes.Buffer
	if code := exitCode(run(context.Background(), []string{"version"}, &stdout, io.Discard), io.Discard); code != 0 {
		t.Errorf("drover version: exit %d", code)
	}
}
