package integration

import (
	"context"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/tasks"
)

// TestPeriodicTasksAcrossFailover: two masters with --schedules and a
// schedule of one task a second; the leader is killed with SIGKILL, and
// the standby takes over. Every period from the first to the last is
// enqueued, and runs, once: none skipped across the failover, none
// doubled.
func TestPeriodicTasksAcrossFailover(t *testing.T) {
	b := runBroker(t)
	d := deployOn(t, b.url())
	master := func() *process {
		return start(t, "master", "--nats", d.url, "--leader-ttl", "1s", "--schedules", "--log-level", "warn")
	}
	d.masters = append(d.masters, master())
	d.waitLeading()
	d.masters = append(d.masters, master())

	js, err := jetstream.New(d.nc)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := tasks.NewServer(js, tasks.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	runs := map[string]int{}
	srv.Handle("tick", func(_ context.Context, ti *tasks.TaskInfo) (any, error) {
		mu.Lock()
		defer mu.Unlock()
		runs[ti.ID]++
		return nil, nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(runs)
	}

	out, err := exec.CommandContext(timeout(t, time.Minute), filepath.Join(bin, "drover"), "task", "schedule", "tick", "tick", "--every", "1s", "--nats", d.url).CombinedOutput()
	if err != nil {
		t.Fatalf("drover task schedule: %v: %s", err, out)
	}
	brokertest.WaitFor(t, time.Minute, func() bool { return count() >= 3 }, "three periods run")
	d.masters[0].kill()
	killed := time.Now().Unix()
	n := count()
	brokertest.WaitFor(t, time.Minute, func() bool { return count() >= n+6 }, "periods run after the failover")

	mu.Lock()
	defer mu.Unlock()
	var starts []int64
	for id, n := range runs {
		if n != 1 {
			t.Errorf("%s ran %d times", id, n)
		}
		sec, err := strconv.ParseInt(strings.TrimPrefix(id, "tick-"), 10, 64)
		if err != nil {
			t.Fatalf("task ID %q does not name its period", id)
		}
		starts = append(starts, sec)
	}
	slices.Sort(starts)
	for i := 1; i < len(starts); i++ {
		if starts[i] != starts[i-1]+1 {
			t.Errorf("periods %d and %d enqueued, none between", starts[i-1], starts[i])
		}
	}
	if starts[0] >= killed || starts[len(starts)-1] <= killed+2 {
		t.Errorf("periods %d to %d do not span the failover at %d", starts[0], starts[len(starts)-1], killed)
	}
	t.Logf("periods %d to %d, the leader killed at %d", starts[0], starts[len(starts)-1], killed)
}
