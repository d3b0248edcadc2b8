package apps

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"iter"
	"slices"
	"sort"
	"strings"

	"github.com/drover-dev/drover/mr"
)

// Sort sorts lines by their bytes, as `LC_ALL=C sort` does, keeping
// duplicates: a record is a line, and its key the whole line. It is a
// total-order sort, as TeraSort's: its partitioner sends each line to the
// range of keys it falls in, between cut points sampled from the input
// (SampleCuts), so that the R output files concatenated in order are one
// sorted file, and of about equal sizes. Its arguments are the cut points
// (SortArgs); without them every line goes to the first partition, still
// in order. Each output line ends in "\n", and a line that ended in
// "\r\n" keeps its "\r".
type Sort struct {
	cuts []string
}

// NewSort makes a sort whose cut points are encoded in args, as SortArgs
// encodes them.
func NewSort(args []string) (mr.App, error) {
	var cuts []string
	for i, arg := range args {
		for field := range strings.SplitSeq(arg, ",") {
			cut, err := hex.DecodeString(field)
			if err != nil {
				return nil, fmt.Errorf("argument %d: want cut points in hex separated by commas, as drover run and submit sample them", i)
			}
			cuts = append(cuts, string(cut))
		}
	}
	if !slices.IsSorted(cuts) {
		return nil, errors.New("the cut points are not sorted")
	}
	if len(cuts) >= mr.MaxR {
		return nil, fmt.Errorf("%d cut points: want fewer than %d", len(cuts), mr.MaxR)
	}
	return Sort{cuts: cuts}, nil
}

func (Sort) Name() string    { return "sort" }
func (Sort) Version() string { return "1" }

// Map emits the line as its key, with its "\r" if it ended in "\r\n".
func (Sort) Map(_ context.Context, rec mr.Record, emit mr.Emit) error {
	line := rec.Text
	if rec.Size-int64(len(line)) == 2 {
		line += "\r"
	}
	return emit(line, "")
}

// Partition is the range of key among the cut points: partition i holds
// the keys from cut i-1 to before cut i. A job whose R is not one more
// than the cut points puts the keys past its last partition in it.
func (s Sort) Partition(key string, r int) int {
	i := sort.Search(len(s.cuts), func(i int) bool { return s.cuts[i] > key })
	return min(i, r-1)
}

// Reduce is not used: sort writes whole partitions (ReducePartition).
func (Sort) Reduce(context.Context, string, iter.Seq[string]) (string, error) {
	return "", errors.New("sort reduces whole partitions")
}

// ReducePartition writes every line of the partition in order,
// duplicates included.
func (Sort) ReducePartition(_ context.Context, pairs iter.Seq2[string, string], w io.Writer) error {
	for key := range pairs {
		if _, err := io.WriteString(w, key); err != nil {
			return err
		}
		if _, err := io.WriteString(w, "\n"); err != nil {
			return err
		}
	}
	return nil
}

// Sampling bounds of SampleCuts.
const (
	// maxCutLen is the longest cut point: a prefix of a sampled line.
	maxCutLen = 24
	// cutBudget is the bytes of arguments the cut points may take,
	// within mr.MaxArgsLen.
	cutBudget = 60 << 10
	// cutArgLen is the most bytes of one argument, within mr.MaxArgLen.
	cutArgLen = 30 << 10
	// sampleWindow is what one sample reads: a line must start in it.
	sampleWindow = 4 << 10
)

// SampleInput is an input to sample: Size bytes read through R.
type SampleInput struct {
	R    io.ReaderAt
	Size int64
}

// SampleCuts returns the r-1 cut points of a sort into r partitions of
// about equal sizes: it reads lines at evenly spaced places of the inputs
// (100 per partition, at least 1,000 and at most 100,000), sorts them and
// takes every len/r-th. Cut points are prefixes of lines, shorter when r
// is large, so that SortArgs fits a job's arguments: a shorter prefix
// keeps the order, and only balances less well.
func SampleCuts(inputs []SampleInput, r int) ([]string, error) {
	if r <= 1 {
		return nil, nil
	}
	var total int64
	for _, in := range inputs {
		total += in.Size
	}
	if total == 0 {
		return nil, nil
	}
	cutLen := min(maxCutLen, (cutBudget/(r-1)-1)/2)
	if cutLen < 1 {
		return nil, fmt.Errorf("%d partitions are too many to sort by sampled ranges: want at most %d", r, cutBudget/3+1)
	}
	n := int64(min(max(100*r, 1000), 100_000))
	samples := make([]string, 0, n)
	window := make([]byte, sampleWindow)
	for i := range n {
		off := i * total / n
		in := 0
		for off >= inputs[in].Size {
			off -= inputs[in].Size
			in++
		}
		line, err := sampleLine(inputs[in], off, window)
		if err != nil {
			return nil, err
		}
		if len(line) > 0 { // an empty line sorts first anyway
			samples = append(samples, string(line[:min(len(line), cutLen)]))
		}
	}
	if len(samples) == 0 {
		return nil, nil
	}
	slices.Sort(samples)
	cuts := make([]string, r-1)
	for i := range cuts {
		cuts[i] = samples[(i+1)*len(samples)/r]
	}
	return cuts, nil
}

// sampleLine returns the first line that starts at or after off in in,
// nil if none starts within the window; it may be cut at the window's end.
func sampleLine(in SampleInput, off int64, window []byte) ([]byte, error) {
	start := off
	if off > 0 {
		start-- // a line starts at off only if the byte before it ends one
	}
	k, err := in.R.ReadAt(window[:min(int64(len(window)), in.Size-start)], start)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	b := window[:k]
	if off > 0 {
		i := slices.Index(b, '\n')
		if i < 0 || i == len(b)-1 {
			return nil, nil
		}
		b = b[i+1:]
	}
	if i := slices.Index(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return b, nil
}

// SortArgs encodes cut points as the sort app's arguments: hex, comma
// separated, in arguments of at most 30 KiB (an empty field is an empty
// cut point).
func SortArgs(cuts []string) []string {
	var args []string
	var b strings.Builder
	in := 0 // cut points in b
	for _, cut := range cuts {
		if in > 0 && b.Len()+1+2*len(cut) > cutArgLen {
			args = append(args, b.String())
			b.Reset()
			in = 0
		}
		if in > 0 {
			b.WriteByte(',')
		}
		b.WriteString(hex.EncodeToString([]byte(cut)))
		in++
	}
	if in > 0 {
		args = append(args, b.String())
	}
	return args
}
