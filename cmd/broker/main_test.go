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
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		err := run(context.Background(), tt.args, &stderr, &stderr)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("run(%q) = %v, want an error containing %q", tt.args, err, tt.want)
		}
	}
}
