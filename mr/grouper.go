package mr

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
)

// grouper writes pairs sorted by key to a pairWriter, combining the values
// of each key on the way when the app is a Combiner: a summing app's
// values into a running total, another's every combineEvery values, so
// that memory holds one key's values at most, and no values at all for an
// app without a combiner.
type grouper struct {
	ctx      context.Context
	app      App
	combiner Combiner
	summing  bool
	c        *Counters
	out      *pairWriter
	// final counts the records of summed keys written as combine output:
	// the map task's output, not a spill of it.
	final bool

	key    []byte
	open   bool
	values []string
	sum    pending
}

func newGrouper(ctx context.Context, app App, c *Counters, out *pairWriter, final bool) *grouper {
	g := &grouper{ctx: ctx, app: app, c: c, out: out, final: final}
	g.combiner, _ = app.(Combiner)
	_, g.summing = app.(IntegerSum)
	return g
}

// add takes the next pair; key and value are only read during the call.
func (g *grouper) add(key, value []byte) error {
	if g.combiner == nil {
		g.out.write(key, value)
		return nil
	}
	if !g.open || !bytes.Equal(key, g.key) {
		if err := g.flush(); err != nil {
			return err
		}
		g.key, g.open = append(g.key[:0], key...), true
	}
	if g.summing {
		n, err := strconv.ParseInt(string(value), 10, 64)
		if err != nil {
			return fmt.Errorf("%s sums integers, and %q is not one", g.app.Name(), value)
		}
		g.sum.add(n)
		return nil
	}
	g.values = append(g.values, string(value))
	if len(g.values) >= combineEvery {
		combined, err := combine(g.ctx, g.combiner, string(g.key), g.values, g.c)
		if err != nil {
			return err
		}
		g.values = append(g.values[:0], combined)
	}
	return nil
}

// flush writes the key in hand, if any.
func (g *grouper) flush() error {
	if !g.open {
		return nil
	}
	g.open = false
	if g.summing {
		g.sum.write(g.out, g.key)
		if g.final {
			g.c.CombineOutputRecords += int64(len(g.sum.values)) + 1
		}
		g.sum = pending{}
		return nil
	}
	if len(g.values) > 1 {
		combined, err := combine(g.ctx, g.combiner, string(g.key), g.values, g.c)
		if err != nil {
			return err
		}
		g.values = append(g.values[:0], combined)
	}
	for _, v := range g.values {
		g.out.write(g.key, []byte(v))
	}
	g.values = g.values[:0]
	return nil
}
