package worker_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/worker"
)

// TestMapSpillsThroughWorker: workers with the smallest sort buffer spill
// every map's output to their temporary directory, and the job's output
// is still byte for byte the sequential one; nothing is left behind.
func TestMapSpillsThroughWorker(t *testing.T) {
	paths, inputs := mrtest.Books(t)
	paths, inputs = paths[:2], inputs[:2]
	ctx, _, store := mrtest.Start(t, 3*time.Second)
	tmp := t.TempDir()
	reg := mrtest.Registry()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{}, 2)
	for range 2 {
		w, err := worker.New(store, worker.Config{Slots: 1, Apps: reg, Logger: slog.New(slog.DiscardHandler), SharedRoots: []string{os.TempDir()},
			SortBuffer: mr.MinSortBuffer, TempDir: tmp})
		if err != nil {
			t.Fatal(err)
		}
		go func() { w.Run(runCtx); done <- struct{}{} }()
	}
	defer func() {
		stop()
		<-done
		<-done
	}()
	e := &env{t: t, ctx: ctx, store: store, apps: reg}
	for _, appName := range []string{"indexer", "wordcount"} {
		spec := mr.JobSpec{ID: "spill-" + appName, App: appName, R: 3, SplitSize: 64 << 10}
		for i, p := range paths {
			spec.Inputs = append(spec.Inputs, mr.Input{Name: filepath.Base(p), Path: p, Size: int64(len(inputs[i].Data))})
		}
		if err := spec.Validate(reg); err != nil {
			t.Fatal(err)
		}
		splits := spec.MapSplits()
		for n, s := range splits {
			e.publish(mr.Task{Job: spec.ID, Phase: mr.PhaseMap, Index: n, App: spec.App, R: spec.R, Timeout: time.Minute,
				Input: &spec.Inputs[s.Input], Split: s.Split})
		}
		for _, c := range e.waitCommits(spec.ID, mr.PhaseMap, len(splits)) {
			if c.Counters.MapSpilledRecords == 0 {
				t.Errorf("%s map %d spilled nothing with a sort buffer of %d bytes", appName, c.Index, mr.MinSortBuffer)
			}
		}
		for r := range spec.R {
			e.publish(mr.Task{Job: spec.ID, Phase: mr.PhaseReduce, Index: r, App: spec.App, R: spec.R, Timeout: time.Minute, Maps: len(splits)})
		}
		reduces := e.waitCommits(spec.ID, mr.PhaseReduce, spec.R)
		app, _ := reg.New(appName, nil)
		want, err := mr.Sequential(ctx, app, inputs, spec.R)
		if err != nil {
			t.Fatal(err)
		}
		for r, c := range reduces {
			got, err := store.Data.GetBytes(ctx, c.Outputs[0])
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want[r]) {
				t.Errorf("%s partition %d: %d bytes, want %d identical to the sequential run", appName, r, len(got), len(want[r]))
			}
		}
	}
	if left := leftIn(tmp); len(left) != 0 {
		t.Errorf("the tasks left %v in their temporary directory", left)
	}
}
