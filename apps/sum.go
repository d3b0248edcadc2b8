package apps

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"strconv"
	"strings"

	"github.com/drover-dev/drover/mr"
)

// ErrOverflow is the error of a total past the range of int64.
var ErrOverflow = errors.New("total overflows int64")

// Sum totals integers by key, as in aggregating logs: each input line is
// `key<whitespace>integer` (`host42 1536`), blank lines are ignored, and
// the output is `key total`. Any other line fails its map, saying what is
// wrong with it, so that a malformed record is found (or, in a job that
// skips bad records, skipped) rather than counted wrong. A total past the
// range of int64 is an error.
type Sum struct{}

func (Sum) Name() string    { return "sum" }
func (Sum) Version() string { return "1" }

func (Sum) Map(_ context.Context, rec mr.Record, emit mr.Emit) error {
	fields := strings.Fields(rec.Text)
	switch len(fields) {
	case 0:
		return nil
	case 2:
	default:
		return fmt.Errorf("want a key and an integer, got %d fields", len(fields))
	}
	if _, err := strconv.ParseInt(fields[1], 10, 64); err != nil {
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("%q is out of the range of int64", fields[1])
		}
		return fmt.Errorf("%q is not an integer", fields[1])
	}
	return emit(fields[0], fields[1])
}

func (Sum) Reduce(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	return checkedSum(values)
}

// SumsIntegers says that Combine adds integers, so that the map side can
// keep a running total per key.
func (Sum) SumsIntegers() {}

// Combine sums on the map side what Reduce sums again.
func (Sum) Combine(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	return checkedSum(values)
}

// checkedSum adds decimal integers exactly, in 128 bits, and fails with
// ErrOverflow if the total is past int64. Only the total counts: whether a
// sum fails must not depend on the order of its values, which differs
// between a sequential run and a distributed one.
func checkedSum(values iter.Seq[string]) (string, error) {
	var hi int64
	var lo uint64
	for v := range values {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return "", fmt.Errorf("value %q: %w", v, err)
		}
		var carry uint64
		lo, carry = bits.Add64(lo, uint64(n), 0)
		hi += int64(carry) + n>>63 // n>>63 sign-extends n to 128 bits
	}
	total := int64(lo)
	if hi != total>>63 {
		return "", ErrOverflow
	}
	return strconv.FormatInt(total, 10), nil
}
