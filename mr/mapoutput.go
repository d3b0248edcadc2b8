package mr

import (
	"bytes"
	"io"
	"os"
)

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
