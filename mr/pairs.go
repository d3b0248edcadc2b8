package mr

import (
	"bufio"
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

func appendPair(b []byte, key, value string) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
}

// pairReader reads a run of pairs.
type pairReader struct {
	r   *bufio.Reader
	buf []byte
}

func newPairReader(r io.Reader) *pairReader {
	return &pairReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next returns the next pair; io.EOF at the clean end of the run, and an
// error wrapping ErrCorrupt for anything else that is not a whole pair.
func (p *pairReader) next() (key, value string, err error) {
	key, err = p.field()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", "", io.EOF
		}
		return "", "", err
	}
	value, err = p.field()
	if errors.Is(err, io.EOF) {
		err = fmt.Errorf("%w: a key without a value", ErrCorrupt)
	}
	return key, value, err
}

func (p *pairReader) field() (string, error) {
	n, err := binary.ReadUvarint(p.r)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return "", io.EOF
		}
		return "", fmt.Errorf("%w: %w", ErrCorrupt, err) // the read's error too: a timeout is no corruption (see Transient)
	}
	if n > maxPairField {
		return "", fmt.Errorf("%w: a field of %d bytes", ErrCorrupt, n)
	}
	if uint64(cap(p.buf)) < n {
		p.buf = make([]byte, n)
	}
	b := p.buf[:n]
	if _, err := io.ReadFull(p.r, b); err != nil {
		return "", fmt.Errorf("%w: a field cut short: %w", ErrCorrupt, err)
	}
	return string(b), nil
}
