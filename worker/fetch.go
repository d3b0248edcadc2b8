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
	commits, err := w.mapCommits(ctx, task)
	if err != nil {
		return fetched{}, err
	}
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
				res.commit = commits[m]
				res.path, res.size, err = w.fetchRun(ctx, task, m, res.commit, filepath.Join(dir, strconv.Itoa(m)))
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

// mapCommits reads the commit of every map of the task's job, all in one
// stream of the commits bucket, rather than one request each: a reduce of
// a job of 10,000 maps makes one read, not 10,000. A map without a
// commit, or whose commit is unreadable, is a *lostInput.
func (w *Worker) mapCommits(ctx context.Context, task mr.Task) ([]mr.Commit, error) {
	watch, err := w.store.Commits.Watch(ctx, mr.JobMapCommitKeys(task.Job), jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read map commits: %w", err)
	}
	defer watch.Stop()
	commits := make([]mr.Commit, task.Maps)
	seen := make([]bool, task.Maps)
	for {
		var entry jetstream.KeyValueEntry
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case e, ok := <-watch.Updates():
			if !ok {
				return nil, errors.New("read map commits: the watch ended")
			}
			entry = e
		}
		if entry == nil {
			break // every commit there is, read
		}
		var c mr.Commit
		if json.Unmarshal(entry.Value(), &c) != nil || c.Map == nil || c.Index < 0 || c.Index >= task.Maps ||
			entry.Key() != mr.CommitKey(task.Job, mr.PhaseMap, c.Index) {
			continue // not a commit a worker made: as if missing
		}
		commits[c.Index], seen[c.Index] = c, true
	}
	for m, ok := range seen {
		if !ok {
			return nil, &lostInput{Map: m, Err: errors.New("no readable commit")}
		}
		if err := commits[m].Map.Validate(task.R); err != nil {
			return nil, lose(commits[m], err)
		}
	}
	return commits, nil
}

// fetchRun copies map m's output for the task's partition, as its commit
// mc names it, to path, if the map wrote any: path is "" if not. The
// object store checks the bytes against the object's digest as they are
// read to the end. A read that fails midway is made again, backing off,
// for up to mr.StaleReadWait: the chunks come through a consumer that a
// node which rejoined its cluster after a partition may serve before it
// has caught up, and the read times out. Only then is the output lost;
// one not found (after mr.GetObject's own wait) or corrupt is lost at
// once.
func (w *Worker) fetchRun(ctx context.Context, task mr.Task, m int, mc mr.Commit, path string) (string, int64, error) {
	name := mc.Map.Object(task.Index)
	if name == "" {
		return "", 0, nil // the map wrote nothing for this partition
	}
	start := time.Now()
	for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		n, local, err := w.copyRun(ctx, name, path)
		switch {
		case err == nil:
			return path, n, nil
		case ctx.Err() != nil:
			return "", 0, ctx.Err()
		case local:
			return "", 0, err
		case errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, jetstream.ErrDigestMismatch) ||
			time.Since(start)+wait > mr.StaleReadWait:
			return "", 0, lose(mc, fmt.Errorf("%s: %w", name, err))
		}
		os.Remove(path)
		select {
		case <-ctx.Done():
			return "", 0, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// copyRun copies the object name to a new file at path; local says that
// its error, if any, is the local file's, not the read's.
func (w *Worker) copyRun(ctx context.Context, name, path string) (n int64, local bool, err error) {
	obj, err := mr.GetObject(ctx, w.store.Data, name)
	if err != nil {
		return 0, false, err
	}
	defer obj.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, true, fmt.Errorf("copy %s: %w", name, err)
	}
	n, err = io.Copy(f, obj)
	if cerr := f.Close(); err == nil && cerr != nil {
		return 0, true, fmt.Errorf("copy %s: %w", name, cerr)
	}
	return n, false, err
}
