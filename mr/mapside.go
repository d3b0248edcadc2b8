package mr

import (
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
)

// combineEvery is how many values of one key a combining map holds before
// it combines them, so that its memory follows its distinct keys.
const combineEvery = 256

// Bounds of the map side's sort buffer (MapConfig.SortBuffer).
const (
	// DefaultSortBuffer is the sort buffer of a map task, as Hadoop's
	// io.sort.mb.
	DefaultSortBuffer = 64 << 20
	MinSortBuffer     = 4 << 10
	MaxSortBuffer     = 2 << 30
)

// MapConfig bounds the memory of a map task. Zero fields take their
// defaults.
type MapConfig struct {
	// SortBuffer is the bytes of map output held in memory (default
	// DefaultSortBuffer, at least MinSortBuffer, at most MaxSortBuffer).
	// Past it the output is sorted and spilled to a file, and the spills
	// are merged at the end, so that a task's memory is bounded by this
	// and not by its output. A map output that fits is sorted in memory,
	// where it takes up to this much again.
	SortBuffer int64
	// SpillDir is where a task makes its directory of spill files
	// (default os.TempDir()). The directory is removed when the task's
	// MapOutput is closed, or when the task fails.
	SpillDir string
}

func (c MapConfig) sortBuffer() int64 {
	if c.SortBuffer == 0 {
		return DefaultSortBuffer
	}
	return min(max(c.SortBuffer, MinSortBuffer), MaxSortBuffer)
}

// RunMap runs app's Map over recs and returns r partitions of output, each
// sorted by key and, when the app is a Combiner, combined, in memory. It
// is RunMapTo with the default MapConfig, for outputs known to be small.
func RunMap(ctx context.Context, app App, recs iter.Seq2[Record, error], r int, progress func(Counters)) ([][]byte, Counters, error) {
	out, c, err := RunMapTo(ctx, app, recs, r, MapConfig{}, progress)
	if err != nil {
		return nil, c, err
	}
	defer out.Close()
	parts := make([][]byte, r)
	for p := range r {
		if out.Size(p) == 0 {
			continue
		}
		if parts[p], err = io.ReadAll(out.Partition(p)); err != nil {
			return nil, c, err
		}
	}
	return parts, c, nil
}

// RunMapTo runs app's Map over recs and returns r partitions of output,
// each sorted by key and, when the app is a Combiner, combined: one value
// per key, or a few. Values of a key keep the order they were emitted in.
// Memory holds cfg.SortBuffer bytes of output; past it, sorted runs go to
// files in cfg.SpillDir and are merged at the end. The caller closes the
// output, which removes its files; a failed call leaves none. progress,
// if not nil, is called after each record with the counters so far.
func RunMapTo(ctx context.Context, app App, recs iter.Seq2[Record, error], r int, cfg MapConfig, progress func(Counters)) (*MapOutput, Counters, error) {
	var c Counters
	m := newMapSorter(ctx, app, r, cfg, &c)
	out, err := m.run(recs, progress)
	if err != nil {
		m.dir.remove()
		return nil, c, err
	}
	c.MapOutputBytes = out.offsets[r] - out.offsets[0]
	return out, c, nil
}

func combine(ctx context.Context, combiner Combiner, key string, values []string, c *Counters) (string, error) {
	c.CombineInputRecords += int64(len(values))
	c.CombineOutputRecords++
	return combiner.Combine(ctx, key, slices.Values(values))
}

// RecordError is a map or reduce that failed on one record; it names the
// record, so that a job failing on bad input says where.
type RecordError struct {
	Input  string // the input (map) or "" (reduce)
	Offset int64  // the record's byte offset in its input
	Key    string // the key (reduce)
	Err    error
}

func (e *RecordError) Error() string {
	if e.Input != "" {
		return fmt.Sprintf("record at %s byte %d: %v", e.Input, e.Offset, e.Err)
	}
	return fmt.Sprintf("key %q: %v", e.Key, e.Err)
}

// safely runs f, turning a panic into an error: an app that panics on a
// record fails its attempt, not its worker.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

func (e *RecordError) Unwrap() error { return e.Err }
