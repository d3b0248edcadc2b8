package mr

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Intermediate data is a run of key/value pairs, each written as the
// uvarint length of the key, the key, the uvarint length of the value and
// the value: any bytes survive, tabs and newlines included.

// maxPairField bounds a key or value read back, so that corrupt data
// cannot make a reader allocate without limit.
const maxPairField = 256 << 20

// pairReader reads a run of pairs.
type pairReader struct {
	r          *bufio.Reader
	key, value []byte
}

func newPairReader(r io.Reader) *pairReader {
	return &pairReader{r: bufio.NewReaderSize(r, pairBufferSize)}
}

// pairBufferSize is the read buffer of one run: a merge of F runs holds F
// of them.
const pairBufferSize = 64 << 10

// next returns the next pair; io.EOF at the clean end of the run, and an
// error wrapping ErrCorrupt for anything else that is not a whole pair.
// The key and value are the reader's, valid until the next call.
func (p *pairReader) next() (key, value []byte, err error) {
	p.key, err = p.field(p.key)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, io.EOF
		}
		return nil, nil, err
	}
	p.value, err = p.field(p.value)
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: a key without a value", ErrCorrupt)
	}
	return p.key, p.value, err
}

// field reads one field into buf, grown as needed.
func (p *pairReader) field(buf []byte) ([]byte, error) {
	n, err := binary.ReadUvarint(p.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return buf, io.EOF
		}
		return buf, fmt.Errorf("%w: %w", ErrCorrupt, err) // the read's error too: a timeout is no corruption (see Transient)
	}
	if n > maxPairField {
		return buf, fmt.Errorf("%w: a field of %d bytes", ErrCorrupt, n)
	}
	if uint64(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(p.r, buf); err != nil {
		return buf, fmt.Errorf("%w: a field cut short: %w", ErrCorrupt, err)
	}
	return buf, nil
}

// pairWriter writes a run of pairs and counts its bytes, so that the
// runs of several partitions can share one file.
type pairWriter struct {
	w      *bufio.Writer
	n      int64 // bytes written
	pairs  int64
	varint [binary.MaxVarintLen64]byte
}

func newPairWriter(w io.Writer) *pairWriter {
	return &pairWriter{w: bufio.NewWriterSize(w, pairBufferSize)}
}

// newMemoryPairWriter is a pairWriter into memory, which needs little
// buffering of its own: a map's output that fits its sort buffer is
// encoded into a bytes.Buffer grown to its size.
func newMemoryPairWriter(b *bytes.Buffer) *pairWriter {
	return &pairWriter{w: bufio.NewWriterSize(b, 512)}
}

func (p *pairWriter) write(key, value []byte) {
	p.field(len(key))
	p.w.Write(key)
	p.field(len(value))
	p.w.Write(value)
	p.n += int64(len(key) + len(value))
	p.pairs++
}

func (p *pairWriter) field(n int) {
	l := binary.PutUvarint(p.varint[:], uint64(n))
	p.w.Write(p.varint[:l])
	p.n += int64(l)
}

// flush writes what is buffered and reports the first write error: a
// bufio.Writer keeps it, so one check at the end covers every write.
func (p *pairWriter) flush() error { return p.w.Flush() }
