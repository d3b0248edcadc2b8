package mr

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
)

// NamedInput is an input held in memory.
type NamedInput struct {
	Name string
	Data []byte
}

// Sequential computes a job's output in one process, the simplest way: map
// every record of every input in order, group all values by key, and
// reduce each key of each partition in key order. It is the reference a
// distributed run must match byte for byte, and the baseline benchmarks
// divide by. It holds everything in memory.
func Sequential(ctx context.Context, app App, inputs []NamedInput, r int) ([][]byte, error) {
	groups := map[string][]string{}
	emit := func(key, value string) error {
		groups[key] = append(groups[key], value)
		return nil
	}
	for _, in := range inputs {
		for rec, err := range ReadSplit(bytes.NewReader(in.Data), int64(len(in.Data)), Split{0, int64(len(in.Data))}, in.Name) {
			if err != nil {
				return nil, err
			}
			if err := app.Map(ctx, rec, emit); err != nil {
				return nil, &RecordError{Input: rec.Input, Offset: rec.Offset, Err: err}
			}
		}
	}
	out := make([][]byte, r)
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		value, err := app.Reduce(ctx, key, slices.Values(groups[key]))
		if err != nil {
			return nil, &RecordError{Key: key, Err: err}
		}
		p := Partition(app, key, r)
		out[p] = fmt.Appendf(out[p], "%s %s\n", key, value)
	}
	return out, nil
}
