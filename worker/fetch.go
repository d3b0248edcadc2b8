package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
)

// fetchConcurrency is how many map outputs a reduce reads at once. Each
// read is an ordered consumer on the object store's stream, of which the
// server allows 1,000 per stream by default: a reduce that held one per
// map output would fail past 1,000 maps, and a few reduces at once far
// sooner. A few at a time keeps the pipe full.
const fetchConcurrency = 4

// fetched is the reduce's copy of its partition of every map output: a
// file per map that wrote any, in map order, and the map's commit.
type fetched struct {
	paths   []string
	commits []mr.Commit
	bytes   int64
}

// fetchRuns copies the task's partition of every committed map output to
// a file in dir, fetchConcurrency at a time, calling progress with the
// fraction of maps done after each. An output that cannot be read is a
// *lostInput; the first to fail stops the others.
func (w *Worker) fetchRuns(ctx context.Context, task mr.Task, dir string, progress func(float64)) (fetched, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		path   string
		commit mr.Commit
		size   int64
	}
	results := make([]result, task.Maps)
	next := make(chan int)
	var finished atomic.Int64
	var (
		mu     sync.Mutex
		failed error // the first failure: those it cancels are not the maps' fault
	)
	var wg sync.WaitGroup
	for range min(fetchConcurrency, task.Maps) {
		wg.Go(func() {
			for m := range next {
				res := &results[m]
				var err error
				res.path, res.commit, res.size, err = w.fetchRun(ctx, task, m, filepath.Join(dir, strconv.Itoa(m)))
				if err != nil {
					mu.Lock()
					if failed == nil {
						failed = err
						cancel() // the reduce fails: read no more
					}
					mu.Unlock()
				}
				progress(float64(finished.Add(1)) / float64(task.Maps))
			}
		})
	}
feed:
	for m := range task.Maps {
		select {
		case next <- m:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	var f fetched
	if failed != nil {
		return f, failed
	}
	for _, res := range results {
		if res.path != "" {
			f.paths, f.commits = append(f.paths, res.path), append(f.commits, res.commit)
			f.bytes += res.size
		}
	}
	if err := ctx.Err(); err != nil { // cancelled before every map was read
		return f, err
	}
	return f, nil
}

// fetchRun copies map m's output for the task's partition to path, if
// the map wrote any: path is "" if not. The object store checks the bytes
// against the object's digest as they are read to the end.
func (w *Worker) fetchRun(ctx context.Context, task mr.Task, m int, path string) (string, mr.Commit, int64, error) {
	var mc mr.Commit
	entry, err := w.store.Commits.Get(ctx, mr.CommitKey(task.Job, mr.PhaseMap, m))
	if err != nil {
		return "", mc, 0, &lostInput{Map: m, Err: fmt.Errorf("commit: %w", err)}
	}
	if err := json.Unmarshal(entry.Value(), &mc); err != nil || task.Index >= len(mc.Outputs) {
		return "", mc, 0, fmt.Errorf("map %d's commit is unreadable: %v", m, err)
	}
	name := mc.Outputs[task.Index]
	if name == "" {
		return "", mc, 0, nil // the map wrote nothing for this partition
	}
	obj, err := w.getObject(ctx, name)
	if err != nil {
		return "", mc, 0, lose(mc, fmt.Errorf("%s: %w", name, err))
	}
	defer obj.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return "", mc, 0, fmt.Errorf("copy map %d's output: %w", m, err)
	}
	n, err := io.Copy(f, obj)
	if cerr := f.Close(); err == nil && cerr != nil {
		return "", mc, 0, fmt.Errorf("copy map %d's output: %w", m, cerr)
	}
	if err != nil {
		if ctx.Err() != nil {
			return "", mc, 0, ctx.Err()
		}
		return "", mc, 0, lose(mc, fmt.Errorf("%s: %w", name, err))
	}
	return path, mc, n, nil
}

// consumerWait bounds how long a read waits for a consumer of the data
// stream to be free.
const consumerWait = 30 * time.Second

// getObject opens an object to read. A stream at its limit of consumers
// is busy, not a sign of a lost output: the read waits, backing off, for
// another reader to finish, up to consumerWait.
func (w *Worker) getObject(ctx context.Context, name string) (jetstream.ObjectResult, error) {
	backoff := 50 * time.Millisecond
	deadline := time.Now().Add(consumerWait)
	for {
		obj, err := w.store.Data.Get(ctx, name)
		if err == nil || !consumerLimit(err) || time.Now().Add(backoff).After(deadline) {
			return obj, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
	}
}

// consumerLimit reports whether err says a stream has as many consumers
// as it allows (10026), from either of nats.go's JetStream APIs.
func consumerLimit(err error) bool {
	const code = 10026
	if api := (*jetstream.APIError)(nil); errors.As(err, &api) && api.ErrorCode == code {
		return true
	}
	api := (*nats.APIError)(nil)
	return errors.As(err, &api) && api.ErrorCode == code
}
