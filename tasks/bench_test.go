package tasks

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
)

// benchWorkers is how many tasks run at once, and how many producers
// enqueue, on both sides.
const benchWorkers = 10

// BenchmarkEmptyTasks enqueues b.N empty tasks from benchWorkers
// producers and waits until a pool of benchWorkers has run them all; it
// reports the time per task and the enqueue-to-start latency. Its
// baseline is the least a JetStream work queue does for the same: a
// message published and acked per task, with no record, no uniqueness,
// no retries.
func BenchmarkEmptyTasks(b *testing.B) {
	b.Run("baseline-jetstream", func(b *testing.B) {
		br := brokertest.Start(b)
		js, _ := jetstream.New(br.Connect())
		ctx := context.Background()
		stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BASE", Subjects: []string{"base.>"}, Retention: jetstream.WorkQueuePolicy})
		if err != nil {
			b.Fatal(err)
		}
		cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1})
		if err != nil {
			b.Fatal(err)
		}
		lat := newLatencies(b.N)
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		for range benchWorkers {
			go func() {
				for runCtx.Err() == nil {
					msg, err := cons.Next(jetstream.FetchContext(runCtx))
					if err != nil {
						continue
					}
					sent, _ := strconv.ParseInt(string(msg.Data()), 10, 64)
					lat.add(time.Since(time.Unix(0, sent)))
					msg.DoubleAck(runCtx)
				}
			}()
		}
		b.ResetTimer()
		produce(b.N, func(i int) error {
			_, err := js.Publish(ctx, "base."+strconv.Itoa(i), []byte(strconv.FormatInt(time.Now().UnixNano(), 10)))
			return err
		})
		lat.wait(b)
		b.StopTimer()
		lat.report(b)
	})
	b.Run("tasks", func(b *testing.B) {
		br := brokertest.Start(b)
		ctx := context.Background()
		client, err := NewClient(ctx, jsOnB(b, br), ClientConfig{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := NewServer(jsOnB(b, br), Config{Queues: map[string]int{DefaultQueue: benchWorkers}, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		lat := newLatencies(b.N)
		srv.Handle("empty", func(_ context.Context, ti *TaskInfo) (any, error) {
			lat.add(time.Since(ti.EnqueuedAt))
			return nil, nil
		})
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		go srv.Run(runCtx)
		brokertest.WaitFor(b, waitTimeout, func() bool {
			_, err := client.st.queue.Consumer(ctx, ConsumerName(DefaultQueue))
			return err == nil
		}, "the server's consumer")
		task := &Task{Type: "empty"}
		b.ResetTimer()
		produce(b.N, func(int) error {
			_, err := client.Enqueue(ctx, task)
			return err
		})
		lat.wait(b)
		b.StopTimer()
		lat.report(b)
	})
}

func jsOnB(b *testing.B, br *brokertest.Server) jetstream.JetStream {
	js, err := jetstream.New(br.Connect())
	if err != nil {
		b.Fatal(err)
	}
	return js
}

// BenchmarkIdleStart enqueues one task at a time to an idle pool and
// waits for it to start: the enqueue-to-start latency of a queue that
// is not behind. Its baseline is a JetStream work queue message, from
// publish to a waiting puller.
func BenchmarkIdleStart(b *testing.B) {
	b.Run("baseline-jetstream", func(b *testing.B) {
		br := brokertest.Start(b)
		js, _ := jetstream.New(br.Connect())
		ctx := context.Background()
		stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "BASE", Subjects: []string{"base.>"}, Retention: jetstream.WorkQueuePolicy})
		if err != nil {
			b.Fatal(err)
		}
		cons, err := stream.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "w", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: -1})
		if err != nil {
			b.Fatal(err)
		}
		lat := newLatencies(b.N)
		started := make(chan struct{})
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		for range benchWorkers {
			go func() {
				for runCtx.Err() == nil {
					msg, err := cons.Next(jetstream.FetchContext(runCtx))
					if err != nil {
						continue
					}
					sent, _ := strconv.ParseInt(string(msg.Data()), 10, 64)
					lat.add(time.Since(time.Unix(0, sent)))
					started <- struct{}{}
					msg.DoubleAck(runCtx)
				}
			}()
		}
		b.ResetTimer()
		for i := range b.N {
			if _, err := js.Publish(ctx, "base."+strconv.Itoa(i), []byte(strconv.FormatInt(time.Now().UnixNano(), 10))); err != nil {
				b.Fatal(err)
			}
			<-started
		}
		b.StopTimer()
		lat.report(b)
	})
	b.Run("tasks", func(b *testing.B) {
		br := brokertest.Start(b)
		ctx := context.Background()
		client, err := NewClient(ctx, jsOnB(b, br), ClientConfig{Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		srv, err := NewServer(jsOnB(b, br), Config{Queues: map[string]int{DefaultQueue: benchWorkers}, Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		lat := newLatencies(b.N)
		started := make(chan struct{})
		srv.Handle("empty", func(_ context.Context, ti *TaskInfo) (any, error) {
			lat.add(time.Since(ti.EnqueuedAt))
			started <- struct{}{}
			return nil, nil
		})
		runCtx, stop := context.WithCancel(ctx)
		defer stop()
		go srv.Run(runCtx)
		brokertest.WaitFor(b, waitTimeout, func() bool {
			_, err := client.st.queue.Consumer(ctx, ConsumerName(DefaultQueue))
			return err == nil
		}, "the server's consumer")
		task := &Task{Type: "empty"}
		b.ResetTimer()
		for range b.N {
			if _, err := client.Enqueue(ctx, task); err != nil {
				b.Fatal(err)
			}
			<-started
		}
		b.StopTimer()
		lat.report(b)
	})
}

// produce calls send(i) for i in [0, n) from benchWorkers goroutines.
func produce(n int, send func(int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				for send(i) != nil {
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

func newLatencies(n int) *latencies {
	return &latencies{n: n, done: make(chan struct{})}
}

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
	case <-time.After(5 * time.Minute):
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
}
