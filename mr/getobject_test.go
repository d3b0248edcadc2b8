package mr_test

import (
	"context"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
)

// staleStore is an object store whose reads answer "not found" while
// fails is above zero, as a replica behind its peers answers a direct
// get after a partition.
type staleStore struct {
	jetstream.ObjectStore
	fails *atomic.Int32
}

func (s staleStore) Get(ctx context.Context, name string, opts ...jetstream.GetObjectOpt) (jetstream.ObjectResult, error) {
	if s.fails.Add(-1) >= 0 {
		return nil, jetstream.ErrObjectNotFound
	}
	return s.ObjectStore.Get(ctx, name, opts...)
}

// TestGetObjectReadsAgain: an object that reads "not found" for a moment
// is read again and found; one whose removal the store records is not
// found at once; one that stays not found is not found after
// StaleReadWait.
func TestGetObjectReadsAgain(t *testing.T) {
	ctx, _, store := mrtest.Start(t, 3*time.Second)
	if _, err := store.Data.PutString(ctx, "there", "an output"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Data.PutString(ctx, "removed", "an output"); err != nil {
		t.Fatal(err)
	}
	if err := store.Data.Delete(ctx, "removed"); err != nil {
		t.Fatal(err)
	}
	var fails atomic.Int32
	fails.Store(3)
	obj, err := mr.GetObject(ctx, staleStore{ObjectStore: store.Data, fails: &fails}, "there")
	if err != nil {
		t.Fatalf("GetObject of an object read stale three times = %v", err)
	}
	data, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || string(data) != "an output" {
		t.Errorf("read %q, %v; want the object", data, err)
	}

	start := time.Now()
	if _, err := mr.GetObject(ctx, store.Data, "removed"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("GetObject of a removed object = %v, want not found", err)
	}
	if took := time.Since(start); took > mr.StaleReadWait/2 {
		t.Errorf("GetObject of a removed object took %v, want it at once", took)
	}

	start = time.Now()
	if _, err := mr.GetObject(ctx, store.Data, "never"); !errors.Is(err, jetstream.ErrObjectNotFound) {
		t.Errorf("GetObject of an object never stored = %v, want not found", err)
	}
	if took := time.Since(start); took < mr.StaleReadWait/2 || took > 2*mr.StaleReadWait {
		t.Errorf("GetObject of an object never stored took %v, want about %v", took, mr.StaleReadWait)
	}
}
