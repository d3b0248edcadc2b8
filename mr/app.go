package mr

import (
	"context"
	"hash/fnv"
	"iter"
)

// Record is one line of input, what a map function sees.
type Record struct {
	Input  string // the input's name, as the job names it
	Offset int64  // the line's byte offset in the input
	Text   string // the line, without its newline
}

// Emit hands a key/value pair to the framework.
type Emit func(key, value string) error

// App is a MapReduce application. Map is called once per input record and
// Reduce once per distinct key, with every value of that key. Both must be
// deterministic: an attempt that runs again, or a backup, must produce the
// same output. Apps are used from many goroutines at once.
type App interface {
	// Name identifies the app in job specs (wordcount, indexer, ...).
	Name() string
	// Version changes whenever the app's output for the same input
	// changes; it is part of a map output's lineage.
	Version() string
	Map(ctx context.Context, rec Record, emit Emit) error
	// Reduce returns the output value of key: the line `key value`.
	Reduce(ctx context.Context, key string, values iter.Seq[string]) (string, error)
}

// Combiner is an App whose map output can be reduced partially on the map
// side: Combine returns the one value that stands for values.
type Combiner interface {
	Combine(ctx context.Context, key string, values iter.Seq[string]) (string, error)
}

// Partitioner is an App that chooses the reduce partition of a key itself.
type Partitioner interface {
	Partition(key string, r int) int
}

// Partition is the reduce partition of key among r: the app's choice, or
// FNV-1a of the key mod r.
func Partition(app App, key string, r int) int {
	if p, ok := app.(Partitioner); ok {
		return p.Partition(key, r)
	}
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(r))
}
