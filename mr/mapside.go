package mr

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"iter"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
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

// mapSorter gathers a map task's output: pairs in a sort buffer, or, for
// an app that sums integers, a running total per key, and spills either
// to a sorted run on disk when it outgrows its bound.
type mapSorter struct {
	ctx     context.Context
	app     App
	r       int
	limit   int64
	c       *Counters
	summing bool
	buf     sortBuffer
	sums    map[string]*pending
	// sumsSize estimates the memory sums takes.
	sumsSize int64
	dir      spillDir
	spills   []*spill
	// err is a spill that failed while emitting: the task's fault, not
	// the record's.
	err error
}

// pendingOverhead estimates what one key of sums costs beyond its bytes:
// its map slot, string header and pending value.
const pendingOverhead = 96

func newMapSorter(ctx context.Context, app App, r int, cfg MapConfig, c *Counters) *mapSorter {
	m := &mapSorter{ctx: ctx, app: app, r: r, limit: cfg.sortBuffer(), c: c, dir: spillDir{parent: cfg.SpillDir}}
	if _, m.summing = app.(IntegerSum); m.summing {
		m.sums = map[string]*pending{}
	}
	return m
}

// run maps recs and returns the sorted output.
func (m *mapSorter) run(recs iter.Seq2[Record, error], progress func(Counters)) (*MapOutput, error) {
	c, ctx, app := m.c, m.ctx, m.app
	// Count every record, and stop at the first read error.
	var readErr error
	counted := func(yield func(Record, error) bool) {
		for rec, err := range recs {
			if err != nil {
				readErr = err
				return
			}
			c.MapInputRecords++
			c.MapInputBytes += rec.Size
			if !yield(rec, nil) {
				return
			}
			if progress != nil {
				progress(*c)
			}
		}
	}
	if sm, ok := app.(SplitMapper); ok {
		err := safely(func() error { return sm.MapSplit(ctx, counted, m.emit) })
		if m.err != nil {
			return nil, m.err
		}
		if err != nil {
			return nil, err
		}
	} else {
		for rec := range counted {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			err := safely(func() error { return app.Map(ctx, rec, m.emit) })
			if m.err != nil {
				return nil, m.err
			}
			if err != nil {
				return nil, &RecordError{Input: rec.Input, Offset: rec.Offset, Err: err}
			}
		}
	}
	if readErr != nil {
		return nil, readErr
	}
	return m.finish()
}

// emit takes one pair from the app.
func (m *mapSorter) emit(key, value string) error {
	if m.err != nil {
		return m.err
	}
	if len(key) > maxPairField || len(value) > maxPairField {
		return fmt.Errorf("a pair of a %d-byte key and a %d-byte value: want at most %d bytes each", len(key), len(value), maxPairField)
	}
	if m.summing {
		return m.emitSum(key, value)
	}
	m.c.MapOutputRecords++
	part, err := m.partition(key)
	if err != nil {
		return err
	}
	m.buf.add(part, key, value)
	if m.buf.size() >= m.limit {
		m.err = m.spill()
	}
	return m.err
}

// emitSum adds an emitted value to its key's running total.
func (m *mapSorter) emitSum(key, value string) error {
	m.c.MapOutputRecords++
	m.c.CombineInputRecords++
	n := int64(1)
	if value != "1" { // what word counts emit
		var err error
		if n, err = strconv.ParseInt(value, 10, 64); err != nil {
			return fmt.Errorf("%s sums integers, and %q is not one", m.app.Name(), value)
		}
	}
	p := m.sums[key]
	if p == nil {
		part, err := m.partition(key)
		if err != nil {
			return err
		}
		p = &pending{part: part}
		m.sums[key] = p
		m.sumsSize += int64(len(key)) + pendingOverhead
	}
	p.add(n)
	if m.sumsSize >= m.limit {
		m.err = m.spill()
	}
	return m.err
}

// partition is key's partition, checked: an app's Partition may be wrong.
func (m *mapSorter) partition(key string) (int, error) {
	p := Partition(m.app, key, m.r)
	if p < 0 || p >= m.r {
		return 0, fmt.Errorf("%s puts key %.40q in partition %d of %d", m.app.Name(), key, p, m.r)
	}
	return p, nil
}

// spill writes what memory holds as a sorted run and empties it.
func (m *mapSorter) spill() error {
	sw, err := newSpillWriter(&m.dir)
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	if err := m.writeSorted(sw.w, sw.startPartition, false); err != nil {
		return err
	}
	s, err := sw.finish()
	if err != nil {
		return fmt.Errorf("spill: %w", err)
	}
	m.spills = append(m.spills, s)
	m.c.MapSpilledRecords += sw.w.pairs
	m.buf.reset()
	clear(m.sums)
	m.sumsSize = 0
	return nil
}

// writeSorted writes what memory holds to w, every partition in turn,
// calling start as each begins; final says it is the task's output.
func (m *mapSorter) writeSorted(w *pairWriter, start func(), final bool) error {
	if m.summing {
		keys := slices.Collect(maps.Keys(m.sums))
		slices.SortFunc(keys, func(a, b string) int {
			return cmp.Or(cmp.Compare(m.sums[a].part, m.sums[b].part), strings.Compare(a, b))
		})
		i := 0
		for p := range m.r {
			start()
			for ; i < len(keys) && m.sums[keys[i]].part == p; i++ {
				s := m.sums[keys[i]]
				s.write(w, []byte(keys[i]))
				if final {
					m.c.CombineOutputRecords += int64(len(s.values)) + 1
				}
			}
		}
		return nil
	}
	m.buf.sort()
	g := newGrouper(m.ctx, m.app, m.c, w, final)
	i := 0
	for p := range m.r {
		start()
		for ; i < len(m.buf.index) && int(m.buf.index[i].part) == p; i++ {
			e := m.buf.index[i]
			if err := g.add(m.buf.key(e), m.buf.value(e)); err != nil {
				return err
			}
		}
		if err := g.flush(); err != nil {
			return err
		}
	}
	return nil
}

// finish sorts what memory holds into the output, or, if anything was
// spilled, spills it too and merges the runs into one file.
func (m *mapSorter) finish() (*MapOutput, error) {
	if !m.dir.used() {
		var b bytes.Buffer
		b.Grow(m.buf.encodedSize())
		w := newPairWriter(&b)
		var offsets []int64
		if err := m.writeSorted(w, func() { offsets = append(offsets, w.n) }, true); err != nil {
			return nil, err
		}
		if err := w.flush(); err != nil {
			return nil, err
		}
		m.buf, m.sums = sortBuffer{}, nil
		return &MapOutput{data: b.Bytes(), offsets: append(offsets, w.n)}, nil
	}
	if len(m.buf.index) > 0 || len(m.sums) > 0 {
		if err := m.spill(); err != nil {
			return nil, err
		}
	}
	m.buf, m.sums = sortBuffer{}, nil
	group := func(w *pairWriter) *grouper { return newGrouper(m.ctx, m.app, m.c, w, false) }
	runs, err := mergePasses(m.ctx, m.spills, m.r, &m.dir, group)
	if err != nil {
		return nil, fmt.Errorf("merge spills: %w", err)
	}
	f, err := m.dir.create()
	if err != nil {
		return nil, fmt.Errorf("merge spills: %w", err)
	}
	w := newPairWriter(f)
	offsets, err := mergeSpills(m.ctx, runs, m.r, w, newGrouper(m.ctx, m.app, m.c, w, true))
	if err == nil {
		err = w.flush()
	}
	if err != nil {
		return nil, fmt.Errorf("merge spills: %w", err)
	}
	for _, s := range runs { // only the output is needed now
		s.f.Close()
		os.Remove(s.f.Name())
	}
	return &MapOutput{file: f, offsets: offsets, dir: &m.dir, spills: len(m.spills)}, nil
}

// MapOutput is a map task's output: R partitions of sorted pairs, in
// memory or in one local file. Close removes its files. Its partitions
// may be read at once from several goroutines.
type MapOutput struct {
	data    []byte   // in memory, when nothing was spilled
	file    *os.File // or in this file
	offsets []int64  // partition p is from offsets[p] to offsets[p+1]
	dir     *spillDir
	spills  int
}

// Size is the bytes of partition p: 0 for an empty one.
func (o *MapOutput) Size(p int) int64 { return o.offsets[p+1] - o.offsets[p] }

// Partition returns a new reader of partition p's pairs.
func (o *MapOutput) Partition(p int) io.Reader {
	if o.file == nil {
		return bytes.NewReader(o.data[o.offsets[p]:o.offsets[p+1]])
	}
	return io.NewSectionReader(o.file, o.offsets[p], o.Size(p))
}

// Spills is how many sorted runs the task wrote to disk: 0 when its
// output fitted its sort buffer.
func (o *MapOutput) Spills() int { return o.spills }

// Close releases the output and removes its files.
func (o *MapOutput) Close() error {
	o.data = nil
	if o.dir == nil {
		return nil
	}
	return o.dir.remove()
}

// pending is a key's running total, the totals that could not be added
// to it without overflow, and its partition.
type pending struct {
	part   int
	values []string
	total  int64
}

// add adds n to the total.
func (p *pending) add(n int64) {
	if sum := p.total + n; (n > 0 && sum < p.total) || (n < 0 && sum > p.total) {
		// Past int64: the total so far goes out as a value of its own,
		// and the reduce, which sums exactly, judges the whole.
		p.values = append(p.values, strconv.FormatInt(p.total, 10))
		p.total = n
	} else {
		p.total = sum
	}
}

// write writes key's totals to w.
func (p *pending) write(w *pairWriter, key []byte) {
	for _, v := range p.values { // totals that would have overflowed
		w.write(key, []byte(v))
	}
	w.write(key, strconv.AppendInt(nil, p.total, 10))
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
