// Package worker runs MapReduce tasks.
//
// A Worker pulls task messages from the one durable consumer every worker
// shares, one per slot and none ahead (no prefetch), so that a task waits
// in the queue where any worker can take it. For each task it:
//
//   - skips it if its commit record exists (an earlier attempt or a backup
//     committed it);
//   - runs it under a context that ends at the attempt's deadline, which
//     runs from the start in the master's clock (Config.Clock);
//   - heartbeats every third of the lease: InProgress keeps the message
//     from being redelivered, and a progress event carries the fraction
//     done; a worker that dies stops heartbeating, and JetStream hands the
//     task to another after the lease;
//   - writes its output under object names of its own execution (the
//     attempt and a nonce: one attempt may be handed out twice) and
//     commits with a KV create of the commit record: the first attempt
//     wins, a loser removes its output;
//   - reports a failure as an event with the attempt and its error, and
//     leaves retrying to the master.
//
// When Run's context ends, a task in the middle is handed back (Nak) for
// another worker to take at once.
package worker
