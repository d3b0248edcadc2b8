package master

import (
	"context"
	"testing"
	"time"

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
