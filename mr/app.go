package mr

import (
	"context"
	"hash/fnv"
	"io"
	"iter"
)

// Record is one line of input, what a map function sees.
type Record struct {
	Input  string // the input's name, as the job names it
	Offset int64  // the line's byte offset in the input
	Text   string // the line, without its newline
	Size   int64  // the bytes the line takes in the input, its newline included
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

// IntegerSum is a Combiner whose values are decimal integers and whose
// combining is their sum, as in counting words or matches. The map side
// then keeps a running total per key instead of the values.
type IntegerSum interface {
	Combiner
	SumsIntegers()
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

// TaskInfo describes the task an app runs in, for apps that tell their
// commands (see package apps' streaming).
type TaskInfo struct {
	Job       string
	Phase     Phase
	Index     int
	Attempt   int
	Worker    string
	Input     string // a map task's input name
	Partition int    // a reduce task's partition
}

type taskInfoKey struct{}

// WithTaskInfo returns ctx carrying info.
func WithTaskInfo(ctx context.Context, info TaskInfo) context.Context {
	return context.WithValue(ctx, taskInfoKey{}, info)
}

// TaskInfoFrom returns the TaskInfo ctx carries, if any.
func TaskInfoFrom(ctx context.Context) (TaskInfo, bool) {
	info, ok := ctx.Value(taskInfoKey{}).(TaskInfo)
	return info, ok
}

// SplitMapper is an App that maps a whole split at once, as a program fed
// every record on its standard input does; RunMap prefers it to Map.
type SplitMapper interface {
	MapSplit(ctx context.Context, recs iter.Seq2[Record, error], emit Emit) error
}

// PartitionReducer is an App that reduces a whole partition at once: it
// reads every pair in key order and writes its own output lines to w.
// RunReduce prefers it to Reduce.
type PartitionReducer interface {
	ReducePartition(ctx context.Context, pairs iter.Seq2[string, string], w io.Writer) error
}

// CommandRunner is an App that runs external commands on the workers, as
// streaming does. Running a command is a privilege of its own: the master
// accepts a job of such an app only on its SubmitExec method (see
// MethodSubmitExec), whose subject NATS grants to the exec-submitter role
// alone, and a worker runs one only when started to allow it.
type CommandRunner interface {
	RunsCommands() bool
}

// StreamingApp is the name of the built-in app that runs a mapper and a
// reducer command (package apps). It runs commands whatever the value
// registered under its name says.
const StreamingApp = "streaming"

// RunsCommands reports whether app runs commands: the streaming app, or
// a CommandRunner that says so.
func RunsCommands(app App) bool {
	if app.Name() == StreamingApp {
		return true
	}
	r, ok := app.(CommandRunner)
	return ok && r.RunsCommands()
}
