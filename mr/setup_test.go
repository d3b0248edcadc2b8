package mr_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
)

// TestBind: on a broker no master reached, Bind fails saying so and
// makes nothing; once a master has opened the store, Bind opens it as it
// is, and changes nothing.
func TestBind(t *testing.T) {
	b := brokertest.Start(t)
	nc := b.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := mr.Bind(ctx, nc)
	want := "mr: no Drover deployment on this NATS: stream DROVER_TASKS not found; start a master first"
	if !errors.Is(err, mr.ErrNoDeployment) || err.Error() != want {
		t.Fatalf("Bind(a fresh broker) = %v, want %q", err, want)
	}
	js, _ := jetstream.New(nc)
	if names := js.StreamNames(ctx); names.Err() == nil {
		for name := range names.Name() {
			t.Errorf("Bind made stream %s", name)
		}
	}

	// A deployment missing one resource is no deployment either.
	if _, err := mr.Open(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster, Lease: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := js.DeleteKeyValue(ctx, mr.BucketLineage); err != nil {
		t.Fatal(err)
	}
	if _, err := mr.Bind(ctx, nc); !errors.Is(err, mr.ErrNoDeployment) ||
		err.Error() != "mr: no Drover deployment on this NATS: key-value bucket drover-lineage not found; start a master first" {
		t.Errorf("Bind without the lineage bucket = %v", err)
	}
	if _, err := mr.Open(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster, Lease: 2 * time.Second}); err != nil {
		t.Fatal(err)
	}
	store, err := mr.Bind(ctx, nc)
	if err != nil {
		t.Fatalf("Bind after a master: %v", err)
	}
	if store.Lease != 2*time.Second || store.Jobs == nil || store.Data == nil || store.Workers == nil {
		t.Errorf("Bind = %+v, want every resource and the master's lease", store)
	}
}

// TestOnlyTheMasterSetsTheLease: whoever reaches a fresh broker first,
// the workers' consumer takes the lease of the master; a process opening
// with RoleAny or binding changes nothing.
func TestOnlyTheMasterSetsTheLease(t *testing.T) {
	b := brokertest.Start(t)
	nc := b.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lease := func() time.Duration {
		t.Helper()
		store, err := mr.Bind(ctx, nc)
		if err != nil {
			t.Fatal(err)
		}
		info, err := store.Workers.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return info.Config.AckWait
	}
	// An old-style worker came first, with its own lease.
	if _, err := mr.Open(ctx, nc, mr.StoreConfig{Lease: time.Second}); err != nil {
		t.Fatal(err)
	}
	store, err := mr.Open(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster, Lease: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if got := lease(); got != 5*time.Second || store.Lease != 5*time.Second {
		t.Errorf("after the master: lease %v, the master's store says %v; want the master's 5s", got, store.Lease)
	}
	if _, err := mr.Open(ctx, nc, mr.StoreConfig{Lease: time.Second}); err != nil {
		t.Fatal(err)
	}
	if got := lease(); got != 5*time.Second {
		t.Errorf("after another process: lease %v, want the master's 5s", got)
	}
	// A master restarted with another lease sets it.
	if _, err := mr.Open(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster, Lease: 7 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if got := lease(); got != 7*time.Second {
		t.Errorf("after a master with a 7s lease: lease %v", got)
	}
}

// TestAwait: a worker started before any master waits, saying so once,
// and binds when the master has made the store.
func TestAwait(t *testing.T) {
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var told atomic.Int32
	done := make(chan error, 1)
	go func() {
		store, err := mr.Await(ctx, b.Connect(), 20*time.Millisecond, func(err error) {
			if errors.Is(err, mr.ErrNoDeployment) {
				told.Add(1)
			}
		})
		if err == nil && store.Lease != 3*time.Second {
			err = errors.New("the store has another lease than the master's")
		}
		done <- err
	}()
	brokertest.WaitFor(t, 10*time.Second, func() bool { return told.Load() > 0 }, "Await to say it waits")
	if _, err := mr.Open(ctx, b.Connect(), mr.StoreConfig{Role: mr.RoleMaster, Lease: 3 * time.Second}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Await: %v", err)
	}
	if n := told.Load(); n != 1 {
		t.Errorf("Await said it waits %d times, want once", n)
	}

	fresh := brokertest.Start(t).Connect()
	short, stop := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer stop()
	if _, err := mr.Await(short, fresh, 10*time.Millisecond, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Await until ctx ends = %v, want the deadline", err)
	}
}

// TestOpenWaitReplicas: replicas a server cannot have are refused with
// ErrReplicas, at once outside a cluster and, in a cluster with fewer
// servers, once the cluster has had its time to come up; a store made
// with one replica is replicated anew to the master's three.
func TestOpenWaitReplicas(t *testing.T) {
	mr.SetPlacementWait(t, 500*time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	one := brokertest.Start(t).Connect()
	if _, err := mr.OpenWait(ctx, one, mr.StoreConfig{Role: mr.RoleMaster, Replicas: 3}, 10*time.Millisecond, nil); !errors.Is(err, mr.ErrReplicas) || !strings.Contains(err.Error(), "not part of a cluster") {
		t.Errorf("OpenWait(3 replicas) on one server = %v, want ErrReplicas saying it is not part of a cluster", err)
	}

	c := brokertest.StartCluster(t, 3)
	nc := c.Connect()
	if _, err := mr.OpenWait(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster, Replicas: 4}, 10*time.Millisecond, nil); !errors.Is(err, mr.ErrReplicas) || !strings.Contains(err.Error(), "has 3 servers") {
		t.Errorf("OpenWait(4 replicas) on 3 servers = %v, want ErrReplicas saying there are 3", err)
	}
	if _, err := mr.OpenWait(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster, Replicas: 1}, 10*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	store, err := mr.OpenWait(ctx, nc, mr.StoreConfig{Role: mr.RoleMaster, Replicas: 3}, 10*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range mr.BackingStreams() {
		s, err := store.JS.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.CachedInfo().Config.Replicas; got != 3 {
			t.Errorf("stream %s has %d replicas after a master asked for 3, want 3", name, got)
		}
	}
}
