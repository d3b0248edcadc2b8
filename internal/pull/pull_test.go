package pull

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
)

// pullHeartbeat is the tests' heartbeat of a pull.
const pullHeartbeat = time.Second

// The work queue the tests pull from, and its consumer.
const (
	testStream   = "PULL_TEST"
	testConsumer = "workers"
)

// queue is a broker with a work queue stream and a durable pull
// consumer of it, whose AckWait is lease.
type queue struct {
	b        *brokertest.Server
	js       jetstream.JetStream
	stream   jetstream.Stream
	consumer jetstream.Consumer
}

func startQueue(t *testing.T, lease time.Duration) (context.Context, *queue) {
	t.Helper()
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	js, err := jetstream.New(b.Connect())
	if err != nil {
		t.Fatal(err)
	}
	stream, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: testStream, Subjects: []string{"task.>"}, Retention: jetstream.WorkQueuePolicy})
	if err != nil {
		t.Fatal(err)
	}
	c, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: testConsumer, AckPolicy: jetstream.AckExplicitPolicy, AckWait: lease})
	if err != nil {
		t.Fatal(err)
	}
	return ctx, &queue{b: b, js: js, stream: stream, consumer: c}
}

// taskSubject is the subject of the queue's task n.
func taskSubject(n int) string { return "task." + strconv.Itoa(n) }

// pullFor pulls once from p with a pull of d.
func pullFor(p *Puller, d time.Duration) (jetstream.Msg, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return p.Pull(ctx, min(pullHeartbeat, d/4))
}

// TestPullerKeepsItsInbox: pulls that end with a task, or with the
// server's word that none came, leave nothing waiting on the server and
// take the same inbox; the tasks are acknowledged as jetstream's are.
func TestPullerKeepsItsInbox(t *testing.T) {
	ctx, q := startQueue(t, 3*time.Second)
	p := New(q.js, q.consumer)
	defer p.Close()

	if msg, err := pullFor(p, 2*time.Second); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("pull from an empty queue = %v, %v; want nats.ErrTimeout", msg, err)
	}
	inbox := p.sub
	if inbox == nil {
		t.Fatal("a pull that expired dropped its inbox")
	}
	for i := range 3 {
		if _, err := q.js.Publish(ctx, taskSubject(i), []byte("task")); err != nil {
			t.Fatal(err)
		}
		msg, err := pullFor(p, 5*time.Second)
		if err != nil {
			t.Fatalf("pull %d: %v", i, err)
		}
		if string(msg.Data()) != "task" || msg.Subject() != taskSubject(i) {
			t.Errorf("pull %d = %q on %s, want %q on %s", i, msg.Data(), msg.Subject(), "task", taskSubject(i))
		}
		meta, err := msg.Metadata()
		if err != nil || meta.NumDelivered != 1 || meta.Stream != testStream || meta.Consumer != testConsumer {
			t.Errorf("Metadata() = %+v, %v; want a first delivery from %s/%s", meta, err, testStream, testConsumer)
		}
		if err := msg.InProgress(); err != nil {
			t.Errorf("InProgress() = %v", err)
		}
		if err := msg.Ack(); err != nil {
			t.Errorf("Ack() = %v", err)
		}
		if err := msg.Nak(); !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			t.Errorf("Nak() after Ack() = %v, want jetstream.ErrMsgAlreadyAckd", err)
		}
		if p.sub != inbox {
			t.Errorf("pull %d took a new inbox", i)
		}
	}
	// Acknowledged: the work queue is empty.
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		info, err := q.stream.Info(ctx)
		return err == nil && info.State.Msgs == 0
	}, "an empty work queue")
}

// TestPullerDropsAbandonedPull: a pull given up before the server ended
// it drops its inbox, so that the server drops the pull: a task that
// comes after goes to the next pull, delivered once, not to the
// abandoned one.
func TestPullerDropsAbandonedPull(t *testing.T) {
	ctx, q := startQueue(t, 3*time.Second)
	p := New(q.js, q.consumer)
	defer p.Close()

	// The slot's worker stops once the pull is on the server.
	pullCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	watch := q.b.Connect()
	sub, err := watch.Subscribe(p.subject, func(*nats.Msg) { cancel() })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	watch.Flush()
	if _, err := p.Pull(pullCtx, pullHeartbeat); !errors.Is(err, context.Canceled) {
		t.Fatalf("abandoned pull = %v, want context.Canceled", err)
	}
	if p.sub != nil {
		t.Fatal("an abandoned pull kept its inbox")
	}
	if _, err := q.js.Publish(ctx, taskSubject(0), []byte("task")); err != nil {
		t.Fatal(err)
	}
	msg, err := pullFor(p, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if meta, err := msg.Metadata(); err != nil || meta.NumDelivered != 1 {
		t.Errorf("Metadata() = %+v, %v; want the first delivery", meta, err)
	}
	msg.Ack()
}

// TestPullerMissedHeartbeats: a pull that hears nothing for two
// heartbeats (its server forgot it, as a restarted one does) ends with
// jetstream.ErrNoHeartbeat and drops its inbox.
func TestPullerMissedHeartbeats(t *testing.T) {
	_, q := startQueue(t, 3*time.Second)
	nc := q.b.Connect()
	// A server that takes pulls and says nothing.
	sub, err := nc.Subscribe("silent.next", func(*nats.Msg) {})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()
	p := New(q.js, q.consumer)
	p.subject = "silent.next"
	defer p.Close()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := p.Pull(ctx, 50*time.Millisecond); !errors.Is(err, jetstream.ErrNoHeartbeat) {
		t.Fatalf("pull = %v, want jetstream.ErrNoHeartbeat", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("pull took %v to miss its heartbeats", took)
	}
	if p.sub != nil {
		t.Error("a pull that missed its heartbeats kept its inbox")
	}
}

// TestPullerWithoutHeartbeats: a pull with a heartbeat of 0 asks for
// none and misses none: it waits until the server ends it, or its task
// comes, keeping its inbox.
func TestPullerWithoutHeartbeats(t *testing.T) {
	ctx, q := startQueue(t, 3*time.Second)
	p := New(q.js, q.consumer)
	defer p.Close()
	pull := func(d time.Duration) (jetstream.Msg, error) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		return p.Pull(ctx, 0)
	}
	start := time.Now()
	if msg, err := pull(500 * time.Millisecond); !errors.Is(err, nats.ErrTimeout) {
		t.Fatalf("pull from an empty queue = %v, %v; want nats.ErrTimeout", msg, err)
	}
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Errorf("a pull of 500ms ended after %v", took)
	}
	if p.sub == nil {
		t.Fatal("a pull that expired dropped its inbox")
	}
	if _, err := q.js.Publish(ctx, taskSubject(0), []byte("task")); err != nil {
		t.Fatal(err)
	}
	msg, err := pull(5 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject() != taskSubject(0) {
		t.Errorf("pull = %s, want %s", msg.Subject(), taskSubject(0))
	}
	msg.Ack()
}

// TestPulledAcks: what each acknowledgement sends, and that only
// InProgress may follow another.
func TestPulledAcks(t *testing.T) {
	_, q := startQueue(t, 3*time.Second)
	nc := q.b.Connect()
	var mu sync.Mutex
	var got []string
	sub, err := nc.Subscribe("ack.>", func(m *nats.Msg) {
		mu.Lock()
		got = append(got, m.Subject+" "+string(m.Data))
		mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	nc.Flush()
	tests := []struct {
		name string
		ack  func(jetstream.Msg) error
		want string
	}{
		{"Ack", jetstream.Msg.Ack, "+ACK"},
		{"Nak", jetstream.Msg.Nak, "-NAK"},
		{"NakWithDelay", func(m jetstream.Msg) error { return m.NakWithDelay(time.Second) }, `-NAK {"delay": 1000000000}`},
		{"Term", jetstream.Msg.Term, "+TERM"},
		{"TermWithReason", func(m jetstream.Msg) error { return m.TermWithReason("bad task") }, "+TERM bad task"},
	}
	var want []string
	for _, tt := range tests {
		reply := "ack." + tt.name
		m := &pulled{msg: &nats.Msg{Subject: "task", Reply: reply}, nc: nc}
		if err := m.InProgress(); err != nil {
			t.Errorf("%s: InProgress() = %v", tt.name, err)
		}
		if err := tt.ack(m); err != nil {
			t.Errorf("%s() = %v", tt.name, err)
		}
		if err := m.Ack(); !errors.Is(err, jetstream.ErrMsgAlreadyAckd) {
			t.Errorf("Ack() after %s() = %v, want jetstream.ErrMsgAlreadyAckd", tt.name, err)
		}
		want = append(want, reply+" +WPI", reply+" "+tt.want)
	}
	nc.Flush()
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(want)
	}, "the acknowledgements")
	mu.Lock()
	defer mu.Unlock()
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("acknowledgement %d = %q, want %q", i, got[i], want[i])
		}
	}
}

// TestPullerPullsAhead: a pull made ahead takes the task published after
// it, and the next pull returns that task without another request; a
// task that came to a pull made ahead of a slot that then stops goes
// back to the queue at once, delivered again long before its lease.
func TestPullerPullsAhead(t *testing.T) {
	ctx, q := startQueue(t, time.Minute)
	p := New(q.js, q.consumer)
	defer p.Close()

	var requests sync.WaitGroup
	watch := q.b.Connect()
	sub, err := watch.Subscribe(p.subject, func(*nats.Msg) { requests.Done() })
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	watch.Flush()

	requests.Add(1)
	p.Ahead(5*time.Second, pullHeartbeat)
	p.Ahead(5*time.Second, pullHeartbeat) // one pull ahead at most
	requests.Wait()
	if _, err := q.js.Publish(ctx, taskSubject(0), []byte("task")); err != nil {
		t.Fatal(err)
	}
	msg, err := pullFor(p, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if msg.Subject() != taskSubject(0) {
		t.Errorf("pull after a pull ahead = %s, want task 0", msg.Subject())
	}
	msg.Ack()

	// The slot stops with a task delivered to its pull ahead.
	requests.Add(1)
	p.Ahead(5*time.Second, pullHeartbeat)
	requests.Wait()
	if _, err := q.js.Publish(ctx, taskSubject(1), []byte("task")); err != nil {
		t.Fatal(err)
	}
	brokertest.WaitFor(t, 10*time.Second, func() bool { return len(p.msgs) > 0 }, "the task to reach the pull ahead")
	p.Close()
	other := New(q.js, q.consumer)
	defer other.Close()
	requests.Add(1)
	msg, err = pullFor(other, 5*time.Second) // well within the lease of a minute
	if err != nil {
		t.Fatalf("the task a stopped slot had pulled ahead: %v", err)
	}
	if meta, err := msg.Metadata(); err != nil || meta.NumDelivered != 2 || msg.Subject() != taskSubject(1) {
		t.Errorf("Metadata() = %+v, %v on %s; want the second delivery of task 1", meta, err, msg.Subject())
	}
	msg.Ack()
}
