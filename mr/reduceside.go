package mr

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
)

// RunReduce merges runs (each sorted by key, in map task order), groups
// the pairs by key, reduces each key and writes its line `key value` to
// w, in key order. Values of a key come in run order, then in the order
// the run holds them. Memory holds one pair per run, not the partition.
// progress, if not nil, is called after each key with the counters so far.
func RunReduce(ctx context.Context, app App, runs []io.Reader, w io.Writer, progress func(Counters)) (Counters, error) {
	var c Counters
	m := &merger{}
	for i, r := range runs {
		if err := m.add(newPairReader(r), i); err != nil {
			return c, err
		}
	}
	out := bufio.NewWriterSize(w, 64<<10)
	if pr, ok := app.(PartitionReducer); ok {
		return reducePartition(ctx, pr, m, out, &c)
	}
	for m.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		key := m.heads[0].key
		c.ReduceInputGroups++
		values, finish := m.values(key, &c)
		value, err := reduceKey(ctx, app, key, values)
		if err == nil {
			err = finish()
		}
		if err != nil {
			return c, err
		}
		out.WriteString(key)
		out.WriteByte(' ')
		out.WriteString(value)
		out.WriteByte('\n')
		c.ReduceOutputRecords++
		if progress != nil {
			progress(c)
		}
	}
	return c, out.Flush()
}

func reduceKey(ctx context.Context, app App, key string, values iter.Seq[string]) (value string, err error) {
	err = safely(func() error {
		value, err = app.Reduce(ctx, key, values)
		return err
	})
	if err != nil && !errors.Is(err, ErrCorrupt) {
		err = &RecordError{Key: key, Err: err}
	}
	return value, err
}

// merger is a heap of the runs' current pairs, least key first, ties in
// run order.
type merger struct {
	heads []head
}

type head struct {
	key, value string
	run        int
	r          *pairReader
}

func (m *merger) Len() int { return len(m.heads) }
func (m *merger) Less(i, j int) bool {
	a, b := m.heads[i], m.heads[j]
	return a.key < b.key || (a.key == b.key && a.run < b.run)
}
func (m *merger) Swap(i, j int) { m.heads[i], m.heads[j] = m.heads[j], m.heads[i] }
func (m *merger) Push(x any)    { m.heads = append(m.heads, x.(head)) }
func (m *merger) Pop() any {
	h := m.heads[len(m.heads)-1]
	m.heads = m.heads[:len(m.heads)-1]
	return h
}

// add reads run's first pair into the heap.
func (m *merger) add(r *pairReader, run int) error {
	key, value, err := r.next()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return &RunError{Run: run, Err: err}
	}
	heap.Push(m, head{key: key, value: value, run: run, r: r})
	return nil
}

// advance replaces the least pair with the next of its run.
func (m *merger) advance() error {
	h := &m.heads[0]
	key, value, err := h.r.next()
	if errors.Is(err, io.EOF) {
		heap.Pop(m)
		return nil
	}
	if err != nil {
		return &RunError{Run: h.run, Err: err}
	}
	h.key, h.value = key, value
	heap.Fix(m, 0)
	return nil
}

// RunError is a run of a reduce's input that could not be read: the map
// output it came from is lost or corrupt, and the map must run again.
type RunError struct {
	Run int // the run's index: the map task it came from
	Err error
}

func (e *RunError) Error() string { return fmt.Sprintf("map %d's output: %v", e.Run, e.Err) }
func (e *RunError) Unwrap() error { return e.Err }

// values yields the values of key from the heap; finish consumes what the
// reducer left of them and reports a read error met on the way.
func (m *merger) values(key string, c *Counters) (iter.Seq[string], func() error) {
	var readErr error
	done := false
	next := func() (string, bool) {
		if done || readErr != nil || m.Len() == 0 || m.heads[0].key != key {
			done = true
			return "", false
		}
		v := m.heads[0].value
		c.ReduceInputRecords++
		if readErr = m.advance(); readErr != nil {
			done = true
		}
		return v, true
	}
	seq := func(yield func(string) bool) {
		for {
			v, ok := next()
			if !ok || !yield(v) {
				return
			}
		}
	}
	finish := func() error {
		for {
			if _, ok := next(); !ok {
				return readErr
			}
		}
	}
	return seq, finish
}

// reducePartition hands every pair, in order, to a PartitionReducer.
func reducePartition(ctx context.Context, pr PartitionReducer, m *merger, out *bufio.Writer, c *Counters) (Counters, error) {
	var readErr error
	pairs := func(yield func(string, string) bool) {
		first, last := true, ""
		for m.Len() > 0 && readErr == nil {
			key, value := m.heads[0].key, m.heads[0].value
			if first || key != last {
				c.ReduceInputGroups++
				first, last = false, key
			}
			c.ReduceInputRecords++
			if readErr = m.advance(); readErr != nil {
				return
			}
			if !yield(key, value) {
				return
			}
		}
	}
	lines := &lineCounter{w: out}
	err := safely(func() error { return pr.ReducePartition(ctx, pairs, lines) })
	c.ReduceOutputRecords = lines.n
	if err == nil {
		err = readErr
	}
	if err == nil {
		err = out.Flush()
	}
	return *c, err
}

// lineCounter counts the lines written through it.
type lineCounter struct {
	w io.Writer
	n int64
}

func (l *lineCounter) Write(p []byte) (int, error) {
	l.n += int64(bytes.Count(p, []byte{'\n'}))
	return l.w.Write(p)
}
