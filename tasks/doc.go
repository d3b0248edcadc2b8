// Package tasks is a general task queue on JetStream, in the manner of
// asynq: send one job to a pool of workers and have it run once, later,
// with retries.
//
// # Usage
//
// A producer makes a Client (NewClient) and enqueues tasks: a type, which
// picks the handler, and a payload, encoded as rpcq encodes arguments
// (msgpack by NewTask, JSON by NewJSONTask):
//
//	c, err := tasks.NewClient(ctx, js, tasks.ClientConfig{})
//	task, err := tasks.NewTask("email:welcome", Welcome{UserID: 42})
//	info, err := c.Enqueue(ctx, task, tasks.TaskID("welcome-42"), tasks.ProcessIn(time.Hour))
//
// A worker makes a Server (NewServer), registers a Handler per type with
// Handle, then calls Run, which takes tasks from its queues until its
// context ends:
//
//	s, err := tasks.NewServer(js, tasks.Config{Queues: map[string]int{"default": 10}})
//	s.Handle("email:welcome", sendWelcome)
//	err = s.Run(ctx)
//
// The caller owns js and its connection; neither Client nor Server closes
// them. A Client is safe for concurrent use and holds no goroutine. Both
// create the streams and buckets they need when they are missing
// (StoreConfig), and use what exists as it is.
//
// # What is where
//
// Every task has a record in the KV bucket BucketTasks under its ID: the
// one source of truth of its state, options, attempts, last error and
// result. The work queue stream StreamQueue holds one message per run of a
// task, on QueueSubject(queue, id), whose body names the run; the one
// an Enqueue publishes carries a copy of the record as created too (see
// Running). The record decides what a worker does. Every change
// of a record is a compare-and-set on its revision, so that of a worker
// and a client (or two workers) changing one task at once, one wins and
// the other reads again. Names are in names.go; the state transitions are
// pure functions in state.go.
//
// # Uniqueness
//
// Enqueue claims the task's ID by creating its record (a KV create: the
// first writer wins). Another Enqueue of the ID returns the existing task
// with TaskInfo.Duplicate set and enqueues nothing (a message it
// published meanwhile, see Running, is deleted before it returns, and a
// worker that got it first finds it of another run and drops it), for as
// long as the record exists: while the task is pending, scheduled, running or
// retrying, then for its Retention once done (at least a second) or for
// ClientConfig.ArchiveFor once archived (default 30 days), until Delete.
// JetStream's duplicate window (two minutes by default, Nats-Msg-Id) is
// not what makes an ID unique: it forgets an ID after the window while a
// task may wait or retry for days, and remembers one after its task is
// deleted. It only makes a retried publish of the same run store once.
//
// # Running
//
// Enqueue publishes the message once the record is created (and the
// task's group place opened), with a copy of the record as created and
// its revision (HeaderRecord, HeaderRevision; none for a record over 4
// KiB). A worker that takes the message claims the task from the copy,
// with no read: the claim is a compare-and-set at the copy's revision, so
// a copy that is stale (the task was cancelled, retried, taken over since)
// loses, and the worker reads the record and decides again. Every other
// decision (wait, drop, archive) is taken on the record read. The
// message of a task outside any group whose record is too large to copy
// is published as the record is created, not after: its worker reads
// the record anyway, so the Enqueue waits for one round trip, not two.
// The broker may store that message first, so a worker that finds no
// record for a message delivered the first time reads again a few times
// over 20 ms, then hands it back for a second; on a later delivery a
// message with no record is a deleted task's and is dropped.
//
// Each queue of a Server has its own durable pull consumer (ConsumerName)
// and as many slots as its concurrency; a slot pulls one message at a
// time, with no prefetch. For a message it takes the record (the copy, or
// read) and:
//
//   - runs the task if it is due: it records the attempt (state running,
//     this worker, the attempt's number) and calls the handler under a
//     context that ends at the attempt's Timeout and the task's Deadline;
//   - hands the message back with NakWithDelay until the task is due, if
//     it is scheduled (ProcessAt, ProcessIn) or waiting for a retry: the
//     broker redelivers it at that time, to the millisecond, and a worker
//     never starts a task before it by its own clock. JetStream's message
//     schedules (nats-server 2.12+) were not used: they fire at whole
//     seconds, which would run a task up to a second early or late;
//   - drops the message if the task has ended or the message belongs to
//     an earlier run.
//
// Queues named in Config.StrictPriority are taken in strict order
// instead: they share their slots, and a free slot looks at them highest
// first without waiting (FetchNoWait), taking the first task ready; when
// none is, it waits until a task is published to one of them, or 100 ms
// for a task handed back to wait.
//
// Once the handler returns, its slot pulls its next message while the
// outcome is recorded, but starts that task only once the outcome is
// stored: a slot never runs two handlers, and its pull costs no wait.
//
// While the handler runs, the worker heartbeats every third of the lease
// (Config.Lease, the consumer's AckWait), as MapReduce workers do:
// InProgress keeps the message, and a read of the record stops the
// attempt if the task was cancelled, deleted or taken over. A worker that
// dies stops heartbeating; after the lease JetStream delivers the message
// to another worker, which finds the record still running and takes the
// task over, counting the lost attempt as a failure (ErrLeaseExpired). A
// worker that loses the bus for a whole lease stops its handler, for the
// task may run elsewhere by then. A Server whose context ends stops its
// handlers and hands their tasks back to run at once elsewhere, with no
// failure counted.
//
// A handler's error fails the attempt: the task retries after an
// exponential backoff with jitter (Config.Backoff), up to MaxRetry times,
// then is archived. An error wrapping ErrSkipRetry (SkipRetry) archives
// it at once, and so does a deadline that comes before the next retry.
// Archived tasks stay for ArchiveFor, and Rerun runs one again from its
// first attempt.
//
// # Results, inspection and control
//
// A handler's result is kept in the record for the task's Retention:
// Result reads it, Wait watches the record and returns when the task ends.
// Inspect reads one task; List lists tasks by queue and state; Cancel
// archives a task with ErrCancelled (a running handler's context is
// cancelled through a notice on CancelSubject, at once, and by its next
// heartbeat if the notice is lost); Delete removes a task in any state and
// frees its ID; Rerun re-runs an archived task.
//
// # Groups
//
// A task enqueued with Group holds a key in BucketGroups (GroupKey) from
// before Enqueue returns until it ends: done, archived or deleted. A
// handler that enqueues tasks into its own group does so before it
// returns, so its children hold the group open before its own key goes.
// WaitGroup watches the group's keys and returns when none is left. Keys
// are closed by the worker before it acks, so a worker that dies in
// between leaves the message to be delivered again, and the next worker
// closes the key. The message names its group (HeaderGroup), so a worker
// closes the key of a task whose record a Delete removed before it died.
//
// # Periodic tasks
//
// A Schedule in BucketSchedules (SetSchedule) names a cron expression or
// an interval and the task to enqueue once per period. A Scheduler, run
// by the master that holds the leader lease, enqueues each period as it
// starts, with the task ID PeriodID(name, start): an Enqueue of a period
// already enqueued, by a scheduler of an earlier term, finds the ID taken
// and enqueues nothing. After each enqueue the scheduler moves the
// schedule's Last to that period, compare-and-set; a scheduler that
// starts after a gap enqueues every period since Last. A period's task
// is retained (Schedule.Retention, default 10 minutes) so that its ID
// stays taken for longer than a failover: a leader killed between an
// enqueue and its record of Last leaves the next to enqueue the period
// again, which then finds it.
//
// # Faults
//
// Every record and message read from the bus is checked against the
// limits (MaxIDLen, MaxPayloadSize, ...) before it is used: one that
// breaks them is logged and its message dropped, and nothing a client
// sends can stop a worker. The record keeps the stream sequence of the
// message that claimed its run, so a duplicate of that message, published by
// mistake or in malice, is dropped rather than run a second time. A
// handler's panic fails its attempt. An
// Enqueue that fails after claiming the ID gives the claim back; a
// producer killed between its record and its message leaves a waiting
// task with no message, which the servers of its queue republish once it
// is older than Config.SweepGrace (the sweep scans the bucket every
// Config.SweepEvery). An Enqueue of the same ID meanwhile does not wait
// for the sweep: it finds the task not ended, and opens its group place
// and publishes its message if they are missing, as a handler run again
// after its worker died enqueues its children again. A result or failure
// that cannot be recorded leaves the message to its lease: the task runs
// again, so handlers should be idempotent, as with every at-least-once
// queue.
package tasks
