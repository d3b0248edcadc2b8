package worker_test

import (
	"context"
	"testing"
	"time"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/worker"
)

// TestRegistryEntry: a running worker's entry says what it is and can
// run; a worker that stops removes it at once.
func TestRegistryEntry(t *testing.T) {
	b := brokertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	store, err := mr.Open(ctx, b.Connect(), mr.StoreConfig{Role: mr.RoleMaster})
	if err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(store, worker.Config{ID: "reg-1", Slots: 3, Apps: apps.Registry(true), AllowExec: true, Version: "worker v9"})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error)
	go func() { ran <- w.Run(runCtx) }()
	var got []mr.WorkerInfo
	brokertest.WaitFor(t, 10*time.Second, func() bool {
		got, _, err = mr.ListWorkers(ctx, store.Registry)
		return err == nil && len(got) == 1
	}, "the worker's entry")
	e := got[0]
	if e.ID != "reg-1" || e.Slots != 3 || e.Busy() != 0 || !e.Exec || e.Version != "worker v9" || !e.CanRun("streaming", true) || e.Started == 0 {
		t.Errorf("entry = %+v, want reg-1 with 3 idle slots, exec, its version and apps", e)
	}
	stop()
	if err := <-ran; err != nil {
		t.Fatal(err)
	}
	if got, _, err := mr.ListWorkers(ctx, store.Registry); err != nil || len(got) != 0 {
		t.Errorf("ListWorkers after Run returned = %+v, %v; want none", got, err)
	}
}
