package mr

import (
	"bytes"
	"cmp"
	"slices"
)

// sortBuffer holds emitted pairs until they are sorted and written out,
// as Hadoop's map output buffer does: the keys and values side by side in
// one byte slice, and a fixed-size entry per pair pointing into it, so
// that its size is known to the byte and sorting moves entries, not data.
type sortBuffer struct {
	data  []byte
	index []sortEntry
}

// sortEntry is one pair: its partition, and where its key and value
// (which follows the key) lie in data. Offsets fit 32 bits because a
// buffer spills before it passes MaxSortBuffer plus one pair.
type sortEntry struct {
	part, off, keyLen, valueLen uint32
}

// sortEntrySize is what an entry costs in memory.
const sortEntrySize = 16

func (b *sortBuffer) add(part int, key, value string) {
	off := len(b.data)
	if need := off + len(key) + len(value); need > cap(b.data) {
		// Double, where append grows a large slice by a quarter: each
		// growth copies and clears the whole buffer.
		grown := make([]byte, off, max(2*cap(b.data), need, 64<<10))
		copy(grown, b.data)
		b.data = grown
	}
	b.data = append(b.data, key...)
	b.data = append(b.data, value...)
	b.index = append(b.index, sortEntry{part: uint32(part), off: uint32(off), keyLen: uint32(len(key)), valueLen: uint32(len(value))})
}

// size is the memory the pairs take, entries included.
func (b *sortBuffer) size() int64 {
	return int64(len(b.data)) + int64(len(b.index))*sortEntrySize
}

func (b *sortBuffer) key(e sortEntry) []byte {
	return b.data[e.off : e.off+e.keyLen]
}

func (b *sortBuffer) value(e sortEntry) []byte {
	start := e.off + e.keyLen
	return b.data[start : start+e.valueLen]
}

// sort orders the entries by partition, then key, then the order they
// were emitted in (their place in data), so that values of a key keep
// their order.
func (b *sortBuffer) sort() {
	slices.SortFunc(b.index, func(x, y sortEntry) int {
		if c := cmp.Compare(x.part, y.part); c != 0 {
			return c
		}
		if c := bytes.Compare(b.key(x), b.key(y)); c != 0 {
			return c
		}
		return cmp.Compare(x.off, y.off)
	})
}

// encodedSize is the bytes the pairs take written as a run.
func (b *sortBuffer) encodedSize() int {
	n := len(b.data)
	for _, e := range b.index {
		n += uvarintLen(e.keyLen) + uvarintLen(e.valueLen)
	}
	return n
}

func uvarintLen(n uint32) int {
	l := 1
	for ; n >= 0x80; n >>= 7 {
		l++
	}
	return l
}

// reset empties the buffer, keeping its memory for the next pairs.
func (b *sortBuffer) reset() {
	b.data, b.index = b.data[:0], b.index[:0]
}
