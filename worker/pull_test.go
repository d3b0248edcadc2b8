package worker

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
)

// logBuffer is a bytes.Buffer safe for a logger's concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestIdleWorkerIsQuiet: pulls from an empty queue expire without a
// warning, however many; a pull that fails, because the consumer is
// gone, is still one.
func TestIdleWorkerIsQuiet(t *testing.T) {
	defer func(d time.Duration) { pullExpiry = d }(pullExpiry)
	pullExpiry = 200 * time.Millisecond
	ctx, b, store := mrtest.Start(t, 3*time.Second)

	// Every pull request the worker sends, as the broker sees it.
	var pulls atomic.Int64
	sub, err := b.Connect().Subscribe("$JS.API.CONSUMER.MSG.NEXT."+mr.StreamTasks+"."+mr.ConsumerWorkers, func(*nats.Msg) { pulls.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()

	logs := &logBuffer{}
	w, err := New(store, Config{Apps: mrtest.Registry(), Slots: 2, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	runCtx, stop := context.WithCancel(ctx)
	go func() { w.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	// Two slots: after eight requests, at least three of each slot's
	// pulls have expired.
	brokertest.WaitFor(t, 30*time.Second, func() bool { return pulls.Load() >= 8 }, "eight pull requests")
	if got := logs.String(); strings.Contains(got, "pull") {
		t.Errorf("an idle worker logged:\n%s", got)
	}

	if err := store.Tasks.DeleteConsumer(ctx, mr.ConsumerWorkers); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		return strings.Contains(logs.String(), `level=WARN msg="worker: pull"`)
	}, "a warning of the failed pull")
}
