package mr

import (
	"bufio"
	"errors"
	"io"
	"iter"
	"strings"
)

// Split is a byte range of an input, cut anywhere: the records of a split
// are the lines that start in it, so a line cut in two belongs to the split
// where it starts, and every line to exactly one split.
type Split struct {
	Start, End int64
}

// Splits cuts an input of size bytes into ranges of about splitSize; a
// splitSize below 1 leaves it whole.
func Splits(size, splitSize int64) []Split {
	if size <= 0 {
		return []Split{{0, 0}}
	}
	if splitSize < 1 {
		return []Split{{0, size}}
	}
	var splits []Split
	for start := int64(0); start < size; start += splitSize {
		splits = append(splits, Split{start, min(start+splitSize, size)})
	}
	return splits
}

// ReadSplit yields the records of split s of input r (named input): the
// lines that start in [s.Start, s.End), each without its "\n" or "\r\n".
func ReadSplit(r io.ReaderAt, size int64, s Split, input string) iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		pos := s.Start
		if pos > 0 {
			pos-- // a line starts at s.Start only if the byte before it ends one
		}
		// No more buffer than the input has: a task of a small split,
		// or none, should not zero 64 KiB to read it.
		br := bufio.NewReaderSize(io.NewSectionReader(r, pos, size-pos), int(min(64<<10, max(size-pos, 16))))
		if s.Start > 0 {
			skipped, err := br.ReadString('\n')
			pos += int64(len(skipped))
			if err != nil {
				if !errors.Is(err, io.EOF) {
					yield(Record{}, err)
				}
				return
			}
		}
		for pos < s.End {
			line, err := br.ReadString('\n')
			if len(line) > 0 {
				rec := Record{Input: input, Offset: pos, Text: strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r"), Size: int64(len(line))}
				pos += int64(len(line))
				if !yield(rec, nil) {
					return
				}
			}
			if err != nil {
				if !errors.Is(err, io.EOF) {
					yield(Record{}, err)
				}
				return
			}
		}
	}
}
