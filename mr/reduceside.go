package mr

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
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
	return reduceMerged(ctx, app, m, w, progress)
}

// reduceMerged is RunReduce over the runs of m.
func reduceMerged(ctx context.Context, app App, m *merger, w io.Writer, progress func(Counters)) (Counters, error) {
	var c Counters
	out := bufio.NewWriterSize(w, 64<<10)
	if pr, ok := app.(PartitionReducer); ok {
		return reducePartition(ctx, pr, m, out, &c)
	}
	for m.Len() > 0 {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		key := string(m.heads[0].key)
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

// values yields the values of key from the heap; finish consumes what the
// reducer left of them and reports a read error met on the way.
func (m *merger) values(key string, c *Counters) (iter.Seq[string], func() error) {
	var readErr error
	done := false
	next := func() (string, bool) {
		if done || readErr != nil || m.Len() == 0 || string(m.heads[0].key) != key {
			done = true
			return "", false
		}
		v := string(m.heads[0].value)
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
			key, value := string(m.heads[0].key), string(m.heads[0].value)
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

// RunReduceFiles is RunReduce over runs in local files, named in map task
// order (a *RunError's Run is an index of paths). It merges them in
// passes while there are more than mergeFanIn runs, writing the passes' runs to a
// directory it makes in tempDir (os.TempDir if "") and removes, so that
// memory and open files are bounded whatever the number of runs.
// progress, if not nil, is called after each key with the bytes of runs
// the last merge has read: from 0 to the runs' total size.
func RunReduceFiles(ctx context.Context, app App, paths []string, tempDir string, w io.Writer, progress func(read int64)) (Counters, error) {
	dir := &spillDir{parent: tempDir}
	defer dir.remove()
	runs := make([]fileRun, len(paths))
	for i, p := range paths {
		runs[i] = fileRun{path: p, id: i}
	}
	for len(runs) > mergeFanIn {
		var next []fileRun
		i := 0
		for _, k := range passGroups(len(runs), mergeFanIn) {
			merged, err := mergeFiles(ctx, runs[i:i+k], dir)
			if err != nil {
				return Counters{}, err
			}
			next = append(next, merged)
			i += k
		}
		runs = append(next, runs[i:]...)
	}
	var read int64
	m, closeRuns, err := openRuns(runs, &read)
	defer closeRuns()
	if err != nil {
		return Counters{}, err
	}
	var report func(Counters)
	if progress != nil {
		report = func(Counters) { progress(read) }
	}
	return reduceMerged(ctx, app, m, w, report)
}

// fileRun is a run in a local file; id numbers it in errors, -1 for a
// run a merge pass wrote.
type fileRun struct {
	path string
	id   int
}

// openRuns opens runs and reads their first pairs into a merger, adding
// the bytes read from them to *read if read is not nil; close closes
// them, also after an error.
func openRuns(runs []fileRun, read *int64) (m *merger, close func(), err error) {
	var files []*os.File
	close = func() {
		for _, f := range files {
			f.Close()
		}
	}
	m = &merger{}
	for _, r := range runs {
		f, err := os.Open(r.path)
		if err != nil {
			return nil, close, err
		}
		files = append(files, f)
		var src io.Reader = f
		if read != nil {
			src = &countedReader{r: f, n: read}
		}
		if err := m.add(newPairReader(src), r.id); err != nil {
			return nil, close, err
		}
	}
	return m, close, nil
}

// mergeFiles merges runs into one run in dir, removing those a pass wrote.
func mergeFiles(ctx context.Context, runs []fileRun, dir *spillDir) (fileRun, error) {
	m, closeRuns, err := openRuns(runs, nil)
	defer closeRuns()
	if err != nil {
		return fileRun{}, err
	}
	f, err := dir.create()
	if err != nil {
		return fileRun{}, fmt.Errorf("merge: %w", err)
	}
	pw := newPairWriter(f)
	for n := 0; m.Len() > 0; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fileRun{}, err
			}
		}
		pw.write(m.heads[0].key, m.heads[0].value)
		if err := m.advance(); err != nil {
			return fileRun{}, err
		}
	}
	err = pw.flush()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fileRun{}, fmt.Errorf("merge: %w", err)
	}
	for _, r := range runs {
		if r.id < 0 {
			os.Remove(r.path)
		}
	}
	return fileRun{path: f.Name(), id: -1}, nil
}

// countedReader adds the bytes read through it to *n; one goroutine
// reads it.
type countedReader struct {
	r io.Reader
	n *int64
}

func (c *countedReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	*c.n += int64(k)
	return k, err
}
