// Package worker runs MapReduce tasks.
//
// A Worker pulls task messages from the durable consumer every worker
// shares, one per slot, so that a task waits in the queue where any worker
// can take it. The one exception is a slot of a worker without
// Config.AllowExec whose task is committing: it makes its next pull
// meanwhile, and holds the task that comes for the commit's round trip at
// most. A worker allowed to run
// commands (Config.AllowExec) pulls from the consumer of the tasks that
// do as well, with the same slots; no other worker ever receives them.
// For each task it:
//
//   - skips it if its commit record exists (an earlier attempt or a backup
//     committed it);
//   - runs it under a context that ends at the attempt's deadline, which
//     runs from the start in the master's clock (Config.Clock);
//   - heartbeats every third of the lease: InProgress keeps the message
//     from being redelivered, and a progress event carries the fraction
//     done; a worker that dies stops heartbeating, and JetStream hands the
//     task to another after the lease. A heartbeat that finds the task
//     committed by another attempt, or its message gone from the queue
//     (its job was cancelled or ended), stops the attempt;
//   - writes its output under object names of its own execution (the
//     attempt and a nonce: one attempt may be handed out twice) and
//     commits with a KV create of the commit record: the first attempt
//     wins, a loser removes its output;
//   - reports a failure as an event with the attempt and its error, and
//     leaves retrying to the master.
//
// When Run's context ends, a task in the middle is handed back (Nak) for
// another worker to take at once.
//
// Every message on the bus may be hostile, so a worker reads only what it
// was configured to: an uploaded input from the object store, or a path
// input (a job submitted with --shared) only if it is a regular file of
// its declared size under one of Config.SharedRoots, symlinks resolved;
// any other path fails its task with an *InputError. Commands run only
// through apps that the registry allowed to (see package apps' streaming).
package worker
