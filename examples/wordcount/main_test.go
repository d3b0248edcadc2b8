package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/testutil"
)

func TestCompute(t *testing.T) {
	var reply WordCountReply
	if err := new(WordCountServer).Compute(WordCountRequest{Input: lectureInput}, &reply); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"hello": 3, "I": 1, "am": 1, "good": 2, "bye": 3, "night": 1}
	if !maps.Equal(reply.Counts, want) {
		t.Errorf("Compute(lecture) = %v, want %v", reply.Counts, want)
	}
}

func TestRunEmbedded(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), nil, &out, &errOut); err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	const counts = "map[I:1 am:1 bye:3 good:2 hello:3 night:1]"
	for _, want := range []string{"Call (synchronous):  " + counts, "Go   (asynchronous): " + counts} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestServeOnExistingNATS(t *testing.T) {
	b := brokertest.Start(t)
	url, _ := serve(t, "--nats", b.ClientURL(), "--serve")
	if url != b.ClientURL() {
		t.Errorf("served on %s, want the given %s", url, b.ClientURL())
	}
}

// TestServeEmbedded: --serve alone serves on an embedded broker at --port
// (4222 by default, where the nats CLI looks), or on a free port when that
// one is taken, and prints the URL either way.
func TestServeEmbedded(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	takenPort := taken.Addr().(*net.TCPAddr).Port

	t.Run("free port", func(t *testing.T) {
		port := freePort(t)
		if url, _ := serve(t, "--serve", "--port", strconv.Itoa(port)); url != fmt.Sprintf("nats://127.0.0.1:%d", port) {
			t.Errorf("served on %s, want port %d", url, port)
		}
	})
	t.Run("taken port", func(t *testing.T) {
		url, notes := serve(t, "--serve", "--port", strconv.Itoa(takenPort))
		if url == fmt.Sprintf("nats://127.0.0.1:%d", takenPort) || !strings.HasPrefix(url, "nats://127.0.0.1:") {
			t.Errorf("served on %s, want another port of 127.0.0.1 than the taken %d", url, takenPort)
		}
		if want := fmt.Sprintf("127.0.0.1:%d is in use", takenPort); !strings.Contains(notes, want) {
			t.Errorf("stderr = %q, want it to say %q", notes, want)
		}
	})
}

// freePort returns a port nothing listened on a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// serve runs the example with args until the test ends, checks that its
// stdout is the one line naming the URL it serves on and that a plain NATS
// request with a JSON body reaches it there, and returns the URL and what
// it wrote on stderr.
func serve(t *testing.T, args ...string) (url, stderr string) {
	t.Helper()
	t.Setenv("NATS_URL", "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out, errOut testutil.SyncBuffer
	go func() { done <- run(ctx, args, &out, &errOut) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run %q = %v after interrupt", args, err)
		}
	})

	brokertest.WaitFor(t, 10*time.Second, func() bool { return strings.Contains(out.String(), "\n") }, "the serving line")
	line := out.String()
	url, ok := strings.CutPrefix(strings.TrimSuffix(line, "\n"), "serving WordCount on ")
	if !ok || strings.Contains(url, "\n") || !strings.HasPrefix(url, "nats://") {
		t.Fatalf("run %q: stdout %q, want one line \"serving WordCount on nats://...\" (stderr %q)", args, line, errOut.String())
	}
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to the printed %s: %v", url, err)
	}
	defer nc.Close()
	m, err := nc.Request("rpcq.WordCount.Compute", []byte(`{"Input":"a b a"}`), 5*time.Second)
	if err != nil {
		t.Fatalf("nats request on %s: %v", url, err)
	}
	var reply WordCountReply
	if err := json.Unmarshal(m.Data, &reply); err != nil || reply.Counts["a"] != 2 || reply.Counts["b"] != 1 {
		t.Errorf("nats request reply = %s (%v)", m.Data, err)
	}
	if got := out.String(); got != line {
		t.Errorf("stdout = %q, want only %q", got, line)
	}
	return url, errOut.String()
}
