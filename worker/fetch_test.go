package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/worker"
)

// TestReduceOfManyMapsHoldsFewConsumers: a reduce reads its partition of
// far more map outputs than its object store stream allows consumers at
// once, as a job of 10,000 maps would against the server's default of
// 1,000 per stream, and its output is the one of merging them all in
// memory; it leaves no file in its temporary directory.
func TestReduceOfManyMapsHoldsFewConsumers(t *testing.T) {
	reduceManyMaps(t, 10, 150, 1)
}

// TestReduceWaitsForAConsumer: reduces that together want more consumers
// than their stream allows wait for one instead of taking the map outputs
// for lost.
func TestReduceWaitsForAConsumer(t *testing.T) {
	reduceManyMaps(t, 2, 40, 2)
}

// reduceManyMaps runs two reduces over maps map outputs on a worker of
// slots slots, the data stream allowing maxConsumers consumers.
func reduceManyMaps(t *testing.T, maxConsumers, maps, slots int) {
	ctx, _, store := mrtest.Start(t, 3*time.Second)
	const r = 2
	limitConsumers(t, ctx, store, maxConsumers)

	// The maps' outputs and commits, as map tasks leave them.
	job := "many"
	app, _ := mrtest.Registry().New("wordcount", nil)
	runs := make([][][]byte, r)
	for m := range maps {
		text := fmt.Sprintf("map%d shared words\nshared line %d\n", m, m%7)
		parts, _, err := mr.RunMap(ctx, app, mr.ReadSplit(bytes.NewReader([]byte(text)), int64(len(text)), mr.Split{End: int64(len(text))}, "in"), r, nil)
		if err != nil {
			t.Fatal(err)
		}
		outputs := mr.NewMapOutputs(job, m, "1-x", len(parts))
		c := mr.Commit{Job: job, Phase: mr.PhaseMap, Index: m, Attempt: 1, Map: &outputs}
		for p, part := range parts {
			if len(part) > 0 {
				outputs.Set(p)
				if _, err := store.Data.PutBytes(ctx, outputs.Object(p), part); err != nil {
					t.Fatal(err)
				}
				runs[p] = append(runs[p], part)
			}
		}
		data, _ := json.Marshal(c)
		if _, err := store.Commits.Create(ctx, mr.CommitKey(job, mr.PhaseMap, m), data); err != nil {
			t.Fatal(err)
		}
	}

	tmp := t.TempDir()
	runCtx, stop := context.WithCancel(ctx)
	w, err := worker.New(store, worker.Config{Slots: slots, Apps: mrtest.Registry(), Logger: slog.New(slog.DiscardHandler), TempDir: tmp})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { w.Run(runCtx); close(done) }()
	defer func() { stop(); <-done }()

	e := &env{t: t, ctx: ctx, store: store}
	for p := range r {
		e.publish(mr.Task{Job: job, Phase: mr.PhaseReduce, Index: p, App: "wordcount", R: r, Timeout: time.Minute, Maps: maps})
	}
	reduces := e.waitCommits(job, mr.PhaseReduce, r)
	for p, c := range reduces {
		got, err := store.Data.GetBytes(ctx, c.Outputs[0])
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		if _, err := mr.RunReduce(ctx, app, readers(runs[p]), &want, nil); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("reduce %d wrote %q, want %q", p, got, want.String())
		}
	}
	if left := leftIn(tmp); len(left) != 0 {
		t.Errorf("the reduces left %v in their temporary directory", left)
	}
}

// limitConsumers lowers the consumers the data bucket's stream allows at
// once, as the server's default of 1,000 does for larger jobs.
func limitConsumers(t *testing.T, ctx context.Context, store *mr.Store, n int) {
	t.Helper()
	status, err := store.Data.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := status.(*jetstream.ObjectBucketStatus).StreamInfo().Config
	cfg.MaxConsumers = n
	if _, err := store.JS.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("limit the data stream to %d consumers: %v", n, err)
	}
}

func readers(runs [][]byte) []io.Reader {
	var rs []io.Reader
	for _, run := range runs {
		rs = append(rs, bytes.NewReader(run))
	}
	return rs
}
