package mr

import (
	"context"
	"io"
	"os"
)

// spill is a sorted run of every partition of a map task's output, in
// one file of the task's spill directory: partition p's pairs are the
// bytes from offsets[p] to offsets[p+1].
type spill struct {
	f       *os.File
	offsets []int64
}

// section is the run of partition p.
func (s *spill) section(p int) *io.SectionReader {
	return io.NewSectionReader(s.f, s.offsets[p], s.offsets[p+1]-s.offsets[p])
}

// spillDir is a task's directory of spill files, made at the first
// spill in a parent directory (os.TempDir if ""), and removed whole, with
// every file closed, when the task is done with it, failed or not.
type spillDir struct {
	parent string
	path   string
	files  []*os.File
}

// create creates a new file in the directory.
func (d *spillDir) create() (*os.File, error) {
	if d.path == "" {
		path, err := os.MkdirTemp(d.parent, "drover-spill-*")
		if err != nil {
			return nil, err
		}
		d.path = path
	}
	f, err := os.CreateTemp(d.path, "run-*")
	if err != nil {
		return nil, err
	}
	d.files = append(d.files, f)
	return f, nil
}

// used reports whether anything was spilled.
func (d *spillDir) used() bool { return d.path != "" }

// remove closes every file and removes the directory.
func (d *spillDir) remove() error {
	for _, f := range d.files {
		f.Close()
	}
	d.files = nil
	if d.path == "" {
		return nil
	}
	err := os.RemoveAll(d.path)
	d.path = ""
	return err
}

// spillWriter writes the partitions of a run, in order, to one file.
type spillWriter struct {
	f       *os.File
	w       *pairWriter
	offsets []int64
}

// newSpillWriter creates a spill file in dir.
func newSpillWriter(dir *spillDir) (*spillWriter, error) {
	f, err := dir.create()
	if err != nil {
		return nil, err
	}
	return &spillWriter{f: f, w: newPairWriter(f)}, nil
}

// startPartition marks where the next partition's pairs begin; call it
// for each partition in order, and then finish.
func (s *spillWriter) startPartition() { s.offsets = append(s.offsets, s.w.n) }

// finish closes the run and returns it, open for reading.
func (s *spillWriter) finish() (*spill, error) {
	s.offsets = append(s.offsets, s.w.n)
	if err := s.w.flush(); err != nil {
		return nil, err
	}
	return &spill{f: s.f, offsets: s.offsets}, nil
}

// mergeSpills merges runs, every partition of the r in turn, into w,
// combining as g does; ties go to the earlier run. It returns the offsets
// of the partitions in w.
func mergeSpills(ctx context.Context, runs []*spill, r int, w *pairWriter, g *grouper) ([]int64, error) {
	offsets := make([]int64, 0, r+1)
	for p := range r {
		offsets = append(offsets, w.n)
		m := &merger{}
		for _, s := range runs {
			if err := m.add(newPairReader(s.section(p)), -1); err != nil {
				return nil, err
			}
		}
		for m.Len() > 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := g.add(m.heads[0].key, m.heads[0].value); err != nil {
				return nil, err
			}
			if err := m.advance(); err != nil {
				return nil, err
			}
		}
		if err := g.flush(); err != nil {
			return nil, err
		}
	}
	return append(offsets, w.n), nil
}

// mergePasses merges runs in passes (see passGroups), in dir, until no
// more than mergeFanIn are left, so that the last merge holds a bounded
// number of read buffers. A run merged away is removed at once, so that
// the disk holds at most about twice the runs' size.
func mergePasses(ctx context.Context, runs []*spill, r int, dir *spillDir, group func(*pairWriter) *grouper) ([]*spill, error) {
	for len(runs) > mergeFanIn {
		var next []*spill
		i := 0
		for _, k := range passGroups(len(runs), mergeFanIn) {
			batch := runs[i : i+k]
			i += k
			sw, err := newSpillWriter(dir)
			if err != nil {
				return nil, err
			}
			offsets, err := mergeSpills(ctx, batch, r, sw.w, group(sw.w))
			if err == nil {
				err = sw.w.flush()
			}
			if err != nil {
				return nil, err
			}
			for _, s := range batch {
				s.f.Close()
				os.Remove(s.f.Name())
			}
			next = append(next, &spill{f: sw.f, offsets: offsets})
		}
		runs = append(next, runs[i:]...)
	}
	return runs, nil
}
