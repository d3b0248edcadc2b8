package mr

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"strconv"
)

// combineEvery is how many values of one key a combining map holds before
// it combines them, so that its memory follows its distinct keys.
const combineEvery = 256

// RunMap runs app's Map over recs and returns r partitions of output, each
// sorted by key and, when the app is a Combiner, combined: one value per
// key. Values of a key keep the order they were emitted in. progress, if
// not nil, is called after each record with the counters so far.
func RunMap(ctx context.Context, app App, recs iter.Seq2[Record, error], r int, progress func(Counters)) ([][]byte, Counters, error) {
	var c Counters
	// One map over every partition: a key is looked up once per emit, and
	// its partition computed once per split.
	keys := map[string]*pending{}
	combiner, _ := app.(Combiner)
	_, summing := app.(IntegerSum)
	emit := func(key, value string) error {
		if summing {
			return c.sum(keys, app, r, key, value)
		}
		c.MapOutputRecords++
		p := keys[key]
		if p == nil {
			p = &pending{part: Partition(app, key, r)}
			keys[key] = p
		}
		p.values = append(p.values, value)
		if combiner != nil && len(p.values) >= combineEvery {
			combined, err := combine(ctx, combiner, key, p.values, &c)
			if err != nil {
				return err
			}
			p.values = append(p.values[:0], combined)
		}
		return nil
	}
	// Count every record, and stop at the first read error.
	var readErr error
	counted := func(yield func(Record, error) bool) {
		for rec, err := range recs {
			if err != nil {
				readErr = err
				return
			}
			c.MapInputRecords++
			c.MapInputBytes += rec.Size
			if !yield(rec, nil) {
				return
			}
			if progress != nil {
				progress(c)
			}
		}
	}
	if sm, ok := app.(SplitMapper); ok {
		if err := safely(func() error { return sm.MapSplit(ctx, counted, emit) }); err != nil {
			return nil, c, err
		}
	} else {
		for rec := range counted {
			if err := ctx.Err(); err != nil {
				return nil, c, err
			}
			if err := safely(func() error { return app.Map(ctx, rec, emit) }); err != nil {
				return nil, c, &RecordError{Input: rec.Input, Offset: rec.Offset, Err: err}
			}
		}
	}
	if readErr != nil {
		return nil, c, readErr
	}
	out := make([][]byte, r)
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		p := keys[key]
		if summing {
			c.CombineOutputRecords += int64(len(p.values)) + 1
			for _, v := range p.values { // totals that would have overflowed
				out[p.part] = appendPair(out[p.part], key, v)
			}
			out[p.part] = appendPair(out[p.part], key, strconv.FormatInt(p.total, 10))
			continue
		}
		values := p.values
		if combiner != nil && len(values) > 1 {
			combined, err := combine(ctx, combiner, key, values, &c)
			if err != nil {
				return nil, c, err
			}
			values = []string{combined}
		}
		for _, v := range values {
			out[p.part] = appendPair(out[p.part], key, v)
		}
	}
	for _, part := range out {
		c.MapOutputBytes += int64(len(part))
	}
	return out, c, nil
}

// pending is a key's values not yet written, or their running total (and
// the totals that could not be added to it without overflow), and its
// partition.
type pending struct {
	part   int
	values []string
	total  int64
}

// sum adds an emitted value to its key's running total.
func (c *Counters) sum(keys map[string]*pending, app App, r int, key, value string) error {
	c.MapOutputRecords++
	c.CombineInputRecords++
	n := int64(1)
	if value != "1" { // what word counts emit
		var err error
		if n, err = strconv.ParseInt(value, 10, 64); err != nil {
			return fmt.Errorf("%s sums integers, and %q is not one", app.Name(), value)
		}
	}
	p := keys[key]
	if p == nil {
		p = &pending{part: Partition(app, key, r)}
		keys[key] = p
	}
	if sum := p.total + n; (n > 0 && sum < p.total) || (n < 0 && sum > p.total) {
		// Past int64: the total so far goes out as a value of its own,
		// and the reduce, which sums exactly, judges the whole.
		p.values = append(p.values, strconv.FormatInt(p.total, 10))
		p.total = n
	} else {
		p.total = sum
	}
	return nil
}

func combine(ctx context.Context, combiner Combiner, key string, values []string, c *Counters) (string, error) {
	c.CombineInputRecords += int64(len(values))
	c.CombineOutputRecords++
	return combiner.Combine(ctx, key, slices.Values(values))
}

// RecordError is a map or reduce that failed on one record; it names the
// record, so that a job failing on bad input says where.
type RecordError struct {
	Input  string // the input (map) or "" (reduce)
	Offset int64  // the record's byte offset in its input
	Key    string // the key (reduce)
	Err    error
}

func (e *RecordError) Error() string {
	if e.Input != "" {
		return fmt.Sprintf("record at %s byte %d: %v", e.Input, e.Offset, e.Err)
	}
	return fmt.Sprintf("key %q: %v", e.Key, e.Err)
}

// safely runs f, turning a panic into an error: an app that panics on a
// record fails its attempt, not its worker.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
		}
	}()
	return f()
}

func (e *RecordError) Unwrap() error { return e.Err }
