package mr

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"iter"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
)

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
		w := newMemoryPairWriter(&b)
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
