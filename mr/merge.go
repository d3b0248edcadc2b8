package mr

import (
	"bytes"
	"container/heap"
	"errors"
	"fmt"
	"io"
)

// mergeFanIn is the most runs one merge reads at once, as Hadoop's
// io.sort.factor: each holds a read buffer (pairBufferSize), so a merge
// of more runs is done in passes (see passGroups) until no more than
// mergeFanIn are left.
const mergeFanIn = 64

// passGroups plans a merge pass over n runs: the sizes of the groups of
// consecutive runs, from the first, that the pass merges into one run
// each, leaving the runs after them as they are. It merges no more than
// it must to leave fanIn runs, so that as little data as possible is
// written twice: of 128 runs and a fan-in of 64, it merges 66. Merging
// consecutive runs keeps their order for ties.
func passGroups(n, fanIn int) []int {
	var groups []int
	for excess, left := n-fanIn, n; excess > 0 && left >= 2; {
		k := min(fanIn, excess+1, left)
		groups = append(groups, k)
		excess -= k - 1
		left -= k
	}
	return groups
}

// merger is a heap of the runs' current pairs, least key first, ties in
// the order the runs were added.
type merger struct {
	heads []head
	added int
}

// head is a run's current pair; key and value are its reader's buffers,
// valid until the run advances.
type head struct {
	key, value []byte
	pos        int // the order the run was added in, which breaks ties
	id         int // the run's number in errors; -1 for a run of our own
	r          *pairReader
}

func (m *merger) Len() int { return len(m.heads) }
func (m *merger) Less(i, j int) bool {
	a, b := &m.heads[i], &m.heads[j]
	c := bytes.Compare(a.key, b.key)
	return c < 0 || (c == 0 && a.pos < b.pos)
}
func (m *merger) Swap(i, j int) { m.heads[i], m.heads[j] = m.heads[j], m.heads[i] }
func (m *merger) Push(x any)    { m.heads = append(m.heads, x.(head)) }
func (m *merger) Pop() any {
	h := m.heads[len(m.heads)-1]
	m.heads = m.heads[:len(m.heads)-1]
	return h
}

// add reads the first pair of r, the run numbered id in errors (-1: one
// this process wrote), into the heap. Runs added later lose ties.
func (m *merger) add(r *pairReader, id int) error {
	pos := m.added
	m.added++
	key, value, err := r.next()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return runError(id, err)
	}
	heap.Push(m, head{key: key, value: value, pos: pos, id: id, r: r})
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
		return runError(h.id, err)
	}
	h.key, h.value = key, value
	heap.Fix(m, 0)
	return nil
}

// runError is the error of a run that could not be read: a *RunError if
// it came from a map output, else a local file of ours failed.
func runError(id int, err error) error {
	if id < 0 {
		return fmt.Errorf("read a spill: %w", err)
	}
	return &RunError{Run: id, Err: err}
}

// RunError is a run of a reduce's input that could not be read: the map
// output it came from is lost or corrupt, and the map must run again.
type RunError struct {
	Run int // the run's index: the map task it came from
	Err error
}

func (e *RunError) Error() string { return fmt.Sprintf("map %d's output: %v", e.Run, e.Err) }
func (e *RunError) Unwrap() error { return e.Err }
