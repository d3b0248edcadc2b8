package master

import (
	"context"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr/mrtest"
)

// TestLease: one holder at a time; a standby takes over only once the
// holder's lease has expired, and the old holder's renewal then fails.
func TestLease(t *testing.T) {
	ctx, _, store := mrtest.Start(t, time.Second)
	a := &lease{kv: store.Jobs, holder: "a", ttl: 5 * time.Second}
	b := &lease{kv: store.Jobs, holder: "b", ttl: 5 * time.Second}
	now := time.Now()

	if ok, err := a.acquire(ctx, now); !ok || err != nil {
		t.Fatalf("a.acquire = %v, %v; want the free lease", ok, err)
	}
	if ok, _ := b.acquire(ctx, now.Add(4*time.Second)); ok {
		t.Fatal("b took a lease that had not expired")
	}
	if err := a.renew(ctx, now.Add(4*time.Second)); err != nil {
		t.Fatalf("a.renew = %v", err)
	}
	// a dies: it renews no more. b waits out the renewed lease.
	if ok, _ := b.acquire(ctx, now.Add(8*time.Second)); ok {
		t.Fatal("b took the lease before a's renewal expired")
	}
	if ok, err := b.acquire(ctx, now.Add(10*time.Second)); !ok || err != nil {
		t.Fatalf("b.acquire after expiry = %v, %v; want the lease", ok, err)
	}
	if err := a.renew(ctx, now.Add(10*time.Second)); err == nil {
		t.Fatal("a renewed a lease b holds")
	}
	b.release(context.Background())
	if ok, _ := a.acquire(ctx, now.Add(11*time.Second)); !ok {
		t.Fatal("a could not take the released lease")
	}
}
