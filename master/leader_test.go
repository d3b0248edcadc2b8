package master

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/testutil"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
)

// TestLease: one holder at a time; a standby takes over only once the
// holder's record has gone unchanged for a whole TTL and the takeover
// margin on the standby's own clock, and the old holder's renewal then
// fails.
func TestLease(t *testing.T) {
	ctx, _, store := mrtest.Start(t, time.Second)
	a := &lease{kv: store.Jobs, holder: "a", ttl: 5 * time.Second}
	b := &lease{kv: store.Jobs, holder: "b", ttl: 5 * time.Second}
	// b's clock is far from a's: only its own intervals count.
	now := time.Now().Add(-time.Hour)

	if ok, err := a.acquire(ctx, now); !ok || err != nil {
		t.Fatalf("a.acquire = %v, %v; want the free lease", ok, err)
	}
	if ok, _ := b.acquire(ctx, now); ok {
		t.Fatal("b took a held lease")
	}
	if ok, _ := b.acquire(ctx, now.Add(4*time.Second)); ok {
		t.Fatal("b took a lease that had not expired")
	}
	if err := a.renew(ctx); err != nil {
		t.Fatalf("a.renew = %v", err)
	}
	// a dies: it renews no more. b sees the renewal and waits a whole TTL
	// and the margin (1.25 s).
	if ok, _ := b.acquire(ctx, now.Add(6*time.Second)); ok {
		t.Fatal("b took the lease just after a renewed it")
	}
	if ok, _ := b.acquire(ctx, now.Add(12*time.Second)); ok {
		t.Fatal("b took the lease before a TTL and the margin passed since the renewal")
	}
	if ok, err := b.acquire(ctx, now.Add(12500*time.Millisecond)); !ok || err != nil {
		t.Fatalf("b.acquire after a TTL unrenewed = %v, %v; want the lease", ok, err)
	}
	if err := a.renew(ctx); err == nil || !taken(err) {
		t.Fatalf("a.renew of a lease b holds = %v, want it taken", err)
	}
	b.release(context.Background())
	if ok, _ := a.acquire(ctx, now.Add(13*time.Second)); !ok {
		t.Fatal("a could not take the released lease")
	}
}

// TestLeaseRenewalAnswerLost: a renewal that went through but whose
// answer was lost leaves the master a revision behind; its next renewal
// still succeeds, as the record names it, while a renewal of a lease
// another master took fails.
func TestLeaseRenewalAnswerLost(t *testing.T) {
	ctx, _, store := mrtest.Start(t, time.Second)
	a := &lease{kv: store.Jobs, holder: "a", ttl: 5 * time.Second}
	if ok, err := a.acquire(ctx, time.Now()); !ok || err != nil {
		t.Fatalf("a.acquire = %v, %v; want the free lease", ok, err)
	}
	// The write of a renewal whose answer never came back.
	lost := *a
	if err := lost.renew(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.renew(ctx); err != nil {
		t.Fatalf("a.renew after a renewal whose answer was lost = %v, want the lease renewed", err)
	}
	if err := a.renew(ctx); err != nil {
		t.Fatalf("a.renew after that = %v", err)
	}
	b := &lease{kv: store.Jobs, holder: "b", ttl: 5 * time.Second}
	if ok, err := b.acquire(ctx, time.Now()); ok || err != nil {
		t.Fatalf("b.acquire of a's renewed lease = %v, %v; want it held", ok, err)
	}
	if _, err := store.Jobs.Put(ctx, leaderKey, []byte(`{"holder":"b","ttl":5000000000}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.renew(ctx); err == nil || !taken(err) {
		t.Fatalf("a.renew of a lease b holds = %v, want it taken", err)
	}
}

// flakyJobs is a jobs bucket whose listing answers "JetStream
// unavailable", as a cluster electing leaders does, while fails is above
// zero.
type flakyJobs struct {
	jetstream.KeyValue
	fails *atomic.Int32
}

func (f flakyJobs) ListKeys(ctx context.Context, opts ...jetstream.WatchOpt) (jetstream.KeyLister, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, &jetstream.APIError{Code: 503, ErrorCode: 10008, Description: "JetStream system temporarily unavailable"}
	}
	return f.KeyValue.ListKeys(ctx, opts...)
}

// TestLeaderStartsAgain: a master that cannot start for want of JetStream
// is started again, a fresh one, while the leader keeps its lease: it
// neither steps down nor stands by, and leads once.
func TestLeaderStartsAgain(t *testing.T) {
	ctx, b, store := mrtest.Start(t, time.Second)
	var fails atomic.Int32
	fails.Store(3)
	flaky := *store
	flaky.Jobs = flakyJobs{KeyValue: store.Jobs, fails: &fails}
	var logs testutil.SyncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	var starts atomic.Int32
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- RunLeader(runCtx, store, "a", time.Second, log, func() (*Master, error) {
			starts.Add(1)
			return New(b.Connect(), &flaky, Config{Apps: mrtest.Registry(), Logger: log})
		})
	}()
	brokertest.WaitFor(t, time.Minute, func() bool { return strings.Contains(logs.String(), "master: running") },
		"the master to run (log: %s)", &logs)
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("RunLeader = %v", err)
	}
	if n := starts.Load(); n != 4 {
		t.Errorf("%d masters started, want 4: three that could not list the jobs, and one that ran", n)
	}
	out := logs.String()
	if n := strings.Count(out, "master: leading"); n != 1 || strings.Contains(out, "stepping down") || strings.Contains(out, "standing by") {
		t.Errorf("led %d times, want once, without stepping down or standing by; log:\n%s", n, out)
	}
}

// hangingLease is a jobs bucket whose updates, the lease's renewals,
// wait for their context's end once hang is set, as a cluster that has
// stopped answering makes them; sent is when the last update that
// passed was sent.
type hangingLease struct {
	jetstream.KeyValue
	hang *atomic.Bool
	sent *atomic.Int64
}

func (h hangingLease) Update(ctx context.Context, key string, value []byte, revision uint64) (uint64, error) {
	if h.hang.Load() {
		<-ctx.Done()
		return 0, ctx.Err()
	}
	at := time.Now()
	rev, err := h.KeyValue.Update(ctx, key, value, revision)
	if err == nil {
		h.sent.Store(at.UnixNano())
	}
	return rev, err
}

// stampedLines records when each line of a log was written.
type stampedLines struct {
	testutil.SyncBuffer
}

func (s *stampedLines) Write(p []byte) (int, error) {
	return s.SyncBuffer.Write(append([]byte(time.Now().Format(time.RFC3339Nano)+" "), p...))
}

// TestLeaderStopsAtExpiry: a leader whose renewals stop being answered
// stops leading a TTL after it sent the last one that passed, not a
// renewal or two later.
func TestLeaderStopsAtExpiry(t *testing.T) {
	ctx, b, store := mrtest.Start(t, time.Second)
	var hang atomic.Bool
	var sent atomic.Int64
	hanging := *store
	hanging.Jobs = hangingLease{KeyValue: store.Jobs, hang: &hang, sent: &sent}
	var logs stampedLines
	log := slog.New(slog.NewTextHandler(&logs, nil))
	const ttl = time.Second
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go RunLeader(runCtx, &hanging, "a", ttl, log, func() (*Master, error) {
		return New(b.Connect(), store, Config{Apps: mrtest.Registry(), Logger: slog.New(slog.DiscardHandler)})
	})
	brokertest.WaitFor(t, time.Minute, func() bool { return sent.Load() != 0 }, "a renewal (log: %s)", &logs)
	hang.Store(true)
	const lost = "master: leadership lost: the lease expired"
	brokertest.WaitFor(t, time.Minute, func() bool { return strings.Contains(logs.String(), lost) }, "the lease to expire (log: %s)", &logs)
	cancel()
	var at time.Time
	for _, line := range strings.Split(logs.String(), "\n") {
		if strings.Contains(line, lost) {
			at, _ = time.Parse(time.RFC3339Nano, strings.Fields(line)[0])
			break
		}
	}
	last := time.Unix(0, sent.Load())
	if late := at.Sub(last) - ttl; late > ttl/4 {
		t.Errorf("the leader stopped %v after the TTL from its last renewal that passed, want within %v", late, ttl/4)
	}
}

// TestStandbyAnswers: a master process that stands by answers
// mr.MasterStandbyService's ping, and stops answering once it leads,
// when the leader before it has gone.
func TestStandbyAnswers(t *testing.T) {
	ctx, b, store := mrtest.Start(t, time.Second)
	log := slog.New(slog.DiscardHandler)
	nc := b.Connect()
	ping, _ := micro.ControlSubject(micro.PingVerb, mr.MasterStandbyService, "")
	answers := func() bool {
		_, err := nc.Request(ping, nil, 200*time.Millisecond)
		return err == nil
	}
	run := func(ctx context.Context, holder string) chan error {
		done := make(chan error, 1)
		go func() {
			done <- RunLeader(ctx, store, holder, time.Second, log, func() (*Master, error) {
				return New(b.Connect(), store, Config{Apps: mrtest.Registry(), Logger: log})
			})
		}()
		return done
	}
	aCtx, stopA := context.WithCancel(ctx)
	defer stopA()
	aDone := run(aCtx, "a")
	brokertest.WaitFor(t, time.Minute, func() bool { return pingsMaster(nc) }, "master a to lead")
	if answers() {
		t.Fatal("a leader with no standby beside it answers as a standby")
	}
	bCtx, stopB := context.WithCancel(ctx)
	defer stopB()
	bDone := run(bCtx, "b")
	brokertest.WaitFor(t, time.Minute, answers, "master b to answer as a standby")
	stopA()
	<-aDone
	brokertest.WaitFor(t, time.Minute, func() bool { return !answers() && pingsMaster(nc) }, "master b to lead, no longer a standby")
	stopB()
	<-bDone
}

// pingsMaster reports whether a master's control API answers its ping.
func pingsMaster(nc *nats.Conn) bool {
	subject, _ := micro.ControlSubject(micro.PingVerb, mr.MasterService, "")
	_, err := nc.Request(subject, nil, 200*time.Millisecond)
	return err == nil
}
