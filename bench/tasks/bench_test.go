package tasks

import (
	"context"
	"encoding/binary"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/redis/go-redis/v9"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/tasks"
)

// workers is how many tasks run at once, and how many producers
// enqueue, on both sides.
const workers = 10

// syncInterval is how often both sides fsync: Redis's appendfsync
// everysec, and JetStream's sync_interval set to match.
const syncInterval = time.Second

// BenchmarkEmptyTasks enqueues b.N empty tasks from `workers` producers
// and waits until `workers` workers have run them all, on asynq (the
// baseline) and on Drover's task queue; it reports the tasks per second
// and the enqueue-to-start latency's median and 99th percentile.
func BenchmarkEmptyTasks(b *testing.B) {
	b.Run("baseline-asynq", func(b *testing.B) {
		addr := startRedis(b)
		client := asynq.NewClient(asynq.RedisClientOpt{Addr: addr})
		defer client.Close()
		lat := newLatencies(b.N)
		srv := asynq.NewServer(asynq.RedisClientOpt{Addr: addr}, asynq.Config{
			Concurrency: workers, Logger: quietAsynq{}, LogLevel: asynq.ErrorLevel,
		})
		mux := asynq.NewServeMux()
		mux.HandleFunc("empty", func(_ context.Context, t *asynq.Task) error {
			lat.add(time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(t.Payload())))))
			return nil
		})
		if err := srv.Start(mux); err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown()
		b.ResetTimer()
		produce(b.N, func(int) error {
			payload := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
			_, err := client.Enqueue(asynq.NewTask("empty", payload), asynq.MaxRetry(0))
			return err
		})
		lat.wait(b)
		b.StopTimer()
		lat.report(b)
	})
	b.Run("drover", func(b *testing.B) {
		client, lat, _ := droverPool(b, false)
		ctx := context.Background()
		task := &tasks.Task{Type: "empty"}
		b.ResetTimer()
		produce(b.N, func(int) error {
			_, err := client.Enqueue(ctx, task, tasks.MaxRetry(0))
			return err
		})
		lat.wait(b)
		b.StopTimer()
		lat.report(b)
	})
}

// BenchmarkIdleStart enqueues one empty task at a time to an idle pool
// of `workers` and waits for it to start: the enqueue-to-start latency of
// a queue that is not behind, on asynq (the baseline) and on Drover.
func BenchmarkIdleStart(b *testing.B) {
	b.Run("baseline-asynq", func(b *testing.B) {
		addr := startRedis(b)
		client := asynq.NewClient(asynq.RedisClientOpt{Addr: addr})
		defer client.Close()
		lat := newLatencies(b.N)
		started := make(chan struct{})
		srv := asynq.NewServer(asynq.RedisClientOpt{Addr: addr}, asynq.Config{
			Concurrency: workers, Logger: quietAsynq{}, LogLevel: asynq.ErrorLevel,
		})
		mux := asynq.NewServeMux()
		mux.HandleFunc("empty", func(_ context.Context, t *asynq.Task) error {
			lat.add(time.Since(time.Unix(0, int64(binary.BigEndian.Uint64(t.Payload())))))
			started <- struct{}{}
			return nil
		})
		if err := srv.Start(mux); err != nil {
			b.Fatal(err)
		}
		defer srv.Shutdown()
		b.ResetTimer()
		for range b.N {
			payload := binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))
			if _, err := client.Enqueue(asynq.NewTask("empty", payload), asynq.MaxRetry(0)); err != nil {
				b.Fatal(err)
			}
			<-started
		}
		b.StopTimer()
		lat.report(b)
	})
	b.Run("drover", func(b *testing.B) {
		client, lat, started := droverPool(b, true)
		ctx := context.Background()
		task := &tasks.Task{Type: "empty"}
		b.ResetTimer()
		for range b.N {
			if _, err := client.Enqueue(ctx, task, tasks.MaxRetry(0)); err != nil {
				b.Fatal(err)
			}
			<-started
		}
		b.StopTimer()
		lat.report(b)
	})
}

// droverPool starts a broker process that fsyncs every syncInterval, as
// redis-server runs in a process of its own, and a task server of
// `workers` slots on it whose handler of "empty" records its latency
// (and, if signal, says that it started); it returns a client.
func droverPool(b *testing.B, signal bool) (*tasks.Client, *latencies, chan struct{}) {
	url := startBroker(b)
	ctx := context.Background()
	quiet := slog.New(slog.DiscardHandler)
	client, err := tasks.NewClient(ctx, jsOn(b, url), tasks.ClientConfig{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	srv, err := tasks.NewServer(jsOn(b, url), tasks.Config{Queues: map[string]int{tasks.DefaultQueue: workers}, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	lat := newLatencies(b.N)
	started := make(chan struct{})
	srv.Handle("empty", func(_ context.Context, ti *tasks.TaskInfo) (any, error) {
		lat.add(time.Since(ti.EnqueuedAt))
		if signal {
			started <- struct{}{}
		}
		return nil, nil
	})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Run(runCtx)
	}()
	b.Cleanup(func() { stop(); <-done })
	js := jsOn(b, url)
	brokertest.WaitFor(b, time.Minute, func() bool {
		_, err := js.Consumer(ctx, tasks.StreamQueue, tasks.ConsumerName(tasks.DefaultQueue))
		return err == nil
	}, "the server's consumer")
	return client, lat, started
}

// brokerBin is Drover's broker, built by TestMain.
var brokerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bench-tasks-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	brokerBin = filepath.Join(dir, "broker")
	build := exec.Command("go", "build", "-o", brokerBin, "github.com/drover-dev/drover/cmd/broker")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build the broker:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startBroker runs Drover's broker on a free loopback port, fsyncing
// JetStream every syncInterval, until the benchmark ends.
func startBroker(b *testing.B) string {
	b.Helper()
	port := freePort(b)
	cmd := exec.Command(brokerBin, "--listen", "127.0.0.1:"+strconv.Itoa(port), "--store", b.TempDir(),
		"--sync-interval", syncInterval.String(), "--log-level", "error")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	url := "nats://127.0.0.1:" + strconv.Itoa(port)
	brokertest.WaitFor(b, 30*time.Second, func() bool {
		nc, err := nats.Connect(url)
		if err != nil {
			return false
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		_, err = js.AccountInfo(context.Background())
		return err == nil
	}, "the broker to answer")
	return url
}

func freePort(b *testing.B) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func jsOn(b *testing.B, url string) jetstream.JetStream {
	nc, err := nats.Connect(url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// startRedis runs redis-server on a free loopback port, with an
// append-only file fsynced every second, until the benchmark ends.
func startRedis(b *testing.B) string {
	b.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		b.Fatal("the asynq baseline needs redis-server on the PATH (Debian: apt-get install redis-server)")
	}
	port := freePort(b)
	dir := b.TempDir()
	cmd := exec.Command(path, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--dir", dir,
		"--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--logfile", filepath.Join(dir, "redis.log"))
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	addr := "127.0.0.1:" + strconv.Itoa(port)
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	brokertest.WaitFor(b, 30*time.Second, func() bool { return rc.Ping(context.Background()).Err() == nil }, "redis-server to answer")
	return addr
}

// produce calls send(i) for i in [0, n) from `workers` goroutines.
func produce(n int, send func(int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				for err := send(i); err != nil; err = send(i) {
					fmt.Fprintln(os.Stderr, "enqueue:", err)
				}
			}
		})
	}
	wg.Wait()
}

// latencies collects n enqueue-to-start latencies.
type latencies struct {
	mu   sync.Mutex
	all  []time.Duration
	n    int
	done chan struct{}
}

func newLatencies(n int) *latencies { return &latencies{n: n, done: make(chan struct{})} }

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, d)
	if len(l.all) == l.n {
		close(l.done)
	}
}

func (l *latencies) wait(b *testing.B) {
	select {
	case <-l.done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("%d of %d ran", len(l.all), l.n)
	}
}

func (l *latencies) report(b *testing.B) {
	l.mu.Lock()
	defer l.mu.Unlock()
	slices.Sort(l.all)
	at := func(q float64) float64 { return float64(l.all[int(q*float64(len(l.all)-1))].Nanoseconds()) / 1e6 }
	b.ReportMetric(at(0.5), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tasks/s")
}

// quietAsynq drops asynq's log.
type quietAsynq struct{}

func (quietAsynq) Debug(...any) {}
func (quietAsynq) Info(...any)  {}
func (quietAsynq) Warn(...any)  {}
func (quietAsynq) Error(...any) {}
func (quietAsynq) Fatal(...any) {}
