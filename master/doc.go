// Package master is the MapReduce coordinator.
//
// Its scheduling logic is Core, a deterministic state machine: events in
// (a job submitted; an attempt started, progressed, committed or failed; a
// job cancelled; time passing), actions out (publish an attempt, purge a
// job's tasks from the queue, finish a job). Core reads no clock and does
// no I/O, so that every fault-tolerance rule is tested by a seeded
// simulation of workers that crash, stall, fail and report commits twice
// or late, and a restarted master can rebuild it by replaying what it
// stored. The rules:
//
//   - a job's map tasks are published at once; its reduces only when every
//     map has committed; it is done when every reduce has;
//   - an attempt's deadline runs from when a worker starts it; past it, the
//     task gets a new attempt, as it does when an attempt fails;
//   - after MaxAttempts failures of one task the job fails with the task's
//     last error, and its remaining tasks leave the queue;
//   - in a job that skips bad records, a map's record on which two
//     attempts failed is skipped by later attempts, and those two
//     failures do not count toward MaxAttempts: a split with any number of
//     bad records finishes, up to MaxSkippedRecords of them per task,
//     past which the job fails;
//   - the first commit of a task wins; later commits and failures of older
//     attempts change nothing;
//   - the attempts of a worker found gone (WorkerLost: its connection
//     closed) are handed back to the queue, the same attempts, to run on
//     another worker at once rather than after the lease;
//   - a task whose newest attempt's message has left the queue with no
//     commit and no failure (Requeue: the shell found it missing) gets a
//     new attempt, which counts as no failure.
//
// Master is the shell: New, then Run(ctx), which serves the rpcq service
// Master until ctx ends (RunLeader runs one per term of a leader lease,
// and stands by, to lead again, when JetStream ends a term). It follows
// the commit bucket and the event stream with ordered consumers, and
// looks for the workers of running attempts on their mr.WorkerSubject,
// and for the messages of the attempts it waits for in the task queue.
// Its methods, one subject each so that NATS permissions grant them by
// role (see mr.MasterSubject):
//
//   - Submit (SubmitArgs → SubmitReply) validates a job spec against the
//     limits of package mr before anything is stored or allocated, and
//     refuses one whose app runs commands with CodeForbidden;
//   - SubmitExec is Submit for the exec-submitter role: it accepts those too;
//   - Status (JobArgs → JobStatus) reports one job;
//   - ListPage (ListArgs → ListPage) reports a page of at most
//     MaxListLimit jobs, newest first, in a list view that fits one
//     message, with the cursor of the next page; List answers the same
//     page as a bare list, and with no arguments the first;
//   - Cancel (JobArgs) stops a job.
//
// Every message on the bus may be hostile: what workers report is kept
// within bounds, and a stored job record the master cannot load (one
// that does not decode, breaks today's limits, or panics) is moved to
// quarantine.<key> in the jobs bucket with a warning, and reported as a
// failed job, "quarantined: <reason>", rather than stop the master.
package master
