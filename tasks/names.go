package tasks

import "strings"

// Every stream, bucket, consumer and subject name of the task queue.
const (
	// StreamQueue is the work queue: one message per run of a task, on
	// QueueSubject(queue, id), removed when a worker finishes with it.
	StreamQueue = "DROVER_TQ"
	// BucketTasks holds one record per task, keyed by the task's ID: the
	// source of truth of its state, its uniqueness and its result.
	BucketTasks = "drover-tq-tasks"
	// BucketGroups holds one key per open task of a group, GroupKey: a
	// group is done when it has none left.
	BucketGroups = "drover-tq-groups"
	// BucketSchedules holds the periodic tasks, one Schedule per key,
	// its name; the master that leads enqueues their periods.
	BucketSchedules = "drover-tq-schedules"

	queuePrefix    = "drover.tq.q"
	cancelPrefix   = "drover.tq.cancel"
	consumerPrefix = "queue-"
)

// QueueSubject is the subject of task id's message in queue: one subject
// per task, so that a task's message can be found and purged by its ID.
func QueueSubject(queue, id string) string { return queuePrefix + "." + queue + "." + id }

// QueueSubjects filters every message of queue, for its consumer.
func QueueSubjects(queue string) string { return queuePrefix + "." + queue + ".>" }

// StreamSubjects is the work queue stream's subject filter.
func StreamSubjects() string { return queuePrefix + ".>" }

// ConsumerName is the durable consumer that every worker of queue shares.
func ConsumerName(queue string) string { return consumerPrefix + queue }

// CancelSubject is where a cancel notice for a running task is
// published; every server listens on CancelSubjects. The notice is only
// the fast path: a running task's heartbeat reads its record too.
func CancelSubject(id string) string { return cancelPrefix + "." + id }

// CancelSubjects filters every cancel notice.
func CancelSubjects() string { return cancelPrefix + ".*" }

// GroupKey is the key in BucketGroups that says task id of group is open.
func GroupKey(group, id string) string { return group + "." + id }

// GroupKeys filters the open tasks of group.
func GroupKeys(group string) string { return group + ".*" }

// HeaderGroup names the group of a queue message's task: a Delete
// interrupted after it removed the record leaves the group's place to the
// worker that takes the message, which has nothing else to learn it from.
const HeaderGroup = "Drover-Task-Group"

// HeaderRecord and HeaderRevision carry, in the message of a run an
// Enqueue publishes, a copy of the task's record as it created it and the
// revision it was created at, so that a worker can claim the task (a
// compare-and-set at that revision) without reading the record first.
// A copy that is stale (the record changed since) loses that
// compare-and-set, and the worker then reads the record, as it does for
// a message without a copy. A copy is trusted as the record is: whoever
// may publish to a queue may write its records too (package auth grants
// them together).
const (
	HeaderRecord   = "Drover-Task-Record"
	HeaderRevision = "Drover-Task-Revision"
)

// maxRecordCopy bounds the record copied into a message: a task with a
// larger payload is read by its worker rather than stored twice (and its
// message published as its record is created, see Client.Enqueue).
const maxRecordCopy = 4 << 10

// msgID is the deduplication ID of the message of a task's run. Each run
// has a name of its own: a task re-run from the archive, or an ID
// enqueued again after Delete, is a new run, and JetStream remembers IDs
// past their message's ack.
func msgID(id, run string) string { return id + "/" + run }

// MaxRunLen bounds the name of a run, which is a queue message's body.
const MaxRunLen = 32

// parseQueueSubject splits a queue message's subject into its queue and
// task ID; ok is false for any other subject.
func parseQueueSubject(subj string) (queue, id string, ok bool) {
	rest, found := strings.CutPrefix(subj, queuePrefix+".")
	if !found {
		return "", "", false
	}
	queue, id, found = strings.Cut(rest, ".")
	return queue, id, found && validName(queue, MaxQueueLen) && validName(id, MaxIDLen)
}

// validName reports whether s can be a queue, group or task ID: one
// subject token and one KV key token of at most max bytes, made of
// letters, digits, '-', '_' and '='.
func validName(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '=') {
			return false
		}
	}
	return true
}

// queueOfConsumer is the queue whose consumer is named name; ok is false
// for any other consumer.
func queueOfConsumer(name string) (queue string, ok bool) {
	queue, ok = strings.CutPrefix(name, consumerPrefix)
	return queue, ok && validName(queue, MaxQueueLen)
}
