// Package mr is the MapReduce protocol that masters, workers and clients
// share: job specs and task messages, the subjects, streams and buckets
// they travel on (names.go), the limits every process holds them to
// (limits.go), and the App interface the workers run.
//
// A master opens the JetStream resources with Open and RoleMaster: it
// creates what is missing and sets the workers' consumers to its lease.
// Everyone else binds to what the master made, creating and changing
// nothing: Bind for a command that needs a running deployment, Await for
// a daemon that may start before the master.
//
// Every message on the bus may be hostile, so nothing is trusted for its
// origin. A master checks a job spec with JobSpec.Validate before it
// allocates or stores anything for it, and again when it loads a stored
// job; a worker checks a task message with DecodeTask before it acts on
// it. Both fail with a *SpecError naming the field and its bound. The
// limits are exported constants (MaxR, MinSplitSize, MaxSplitSize, ...)
// so that a client can check its input the same way before it uploads
// anything.
//
// A job whose app runs commands (RunsCommands: streaming, or a
// CommandRunner) needs a privilege of its own: the master accepts it only
// on MethodSubmitExec.
//
// A map task runs with RunMapTo, which holds MapConfig.SortBuffer bytes
// of output in memory, spills sorted runs past it to a directory of its
// own and merges them at the end; the caller reads each partition of the
// MapOutput and closes it, which removes the files. A reduce runs with
// RunReduceFiles over its copies of the map outputs, merged in passes of
// at most 64 runs, so that neither side's memory or open files grow with
// the data. RunMap and RunReduce are the same over memory, for small
// data and tests.
//
// A Registry and a Store are safe for concurrent use; specs and tasks are
// values, owned by whoever holds them.
package mr
