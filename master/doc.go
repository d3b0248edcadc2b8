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
//     attempts change nothing.
package master
