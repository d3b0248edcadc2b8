package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/testutil"
)

func TestUIUsage(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"ui", "extra"}, "drover: ui takes no arguments"},
		{[]string{"ui", "--refresh", "1ms"}, "drover: --refresh 1ms: want 100ms to 1h"},
		{[]string{"ui", "--log-level", "loud"}, `drover: --log-level "loud"`},
	}
	for _, tt := range tests {
		var errOut strings.Builder
		code := exitCode(run(context.Background(), tt.args, io.Discard, &errOut), &errOut)
		if code != 2 || !strings.HasPrefix(lastLine(errOut.String()), tt.want) {
			t.Errorf("drover %q: exit %d, %q; want 2 and an error starting %q", tt.args, code, errOut.String(), tt.want)
		}
	}
}

// TestUIServes: drover ui serves its pages on the address it prints, on
// the loopback interface, and stops cleanly when its context ends.
func TestUIServes(t *testing.T) {
	b := brokertest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out testutil.SyncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"ui", "--nats", b.ClientURL(), "--http", "127.0.0.1:0", "--log-level", "error"}, &out, io.Discard)
	}()
	re := regexp.MustCompile(`dashboard on (http://127\.0\.0\.1:\d+)`)
	var url string
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			url = m[1]
		}
		return url != ""
	}, "drover ui to say where it serves (it said %q)", out.String())
	res, err := http.Get(url + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "DROVER_TASKS") {
		t.Errorf("GET /cluster = %d, want 200 and the task stream:\n%s", res.StatusCode, body)
	}
	res, err = http.Get(url + "/jobs")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "no master is running") {
		t.Errorf("GET /jobs with no master = %d, want 502 saying no master runs:\n%s", res.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("drover ui stopped with %v, want nil", err)
	}
}
