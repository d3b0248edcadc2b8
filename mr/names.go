package mr

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/drover-dev/drover/rpcq"
)

// Every subject, stream, bucket and object name of the MapReduce protocol.
const (
	// StreamTasks is the work queue of task messages.
	StreamTasks = "DROVER_TASKS"
	// StreamEvents is the log of task events (started, progress, failed).
	StreamEvents = "DROVER_EVENTS"
	// BucketJobs holds job specs and state, keyed by job ID.
	BucketJobs = "drover-jobs"
	// BucketCommits holds task commit records, keyed by CommitKey.
	BucketCommits = "drover-commits"
	// BucketLineage maps a map task's lineage key to its committed output.
	BucketLineage = "drover-lineage"
	// BucketWorkers is the worker registry: each live worker's
	// WorkerInfo under its ID, gone WorkerTTL after its last report.
	BucketWorkers = "drover-workers"
	// ObjectStoreData holds inputs, intermediate data and outputs.
	ObjectStoreData = "drover-data"
	// MasterService is the rpcq service of the master's control API; its
	// methods are the Method constants, on MasterSubject.
	MasterService = "Master"

	taskPrefix   = "drover.task"
	eventPrefix  = "drover.event"
	workerPrefix = "drover.worker"
)

// Methods of MasterService. Each is one subject (MasterSubject), so that
// NATS permissions can grant them by role: Submit to submitters,
// SubmitExec to the exec-submitter role alone, Status, List and ListPage
// to readers, Cancel to submitters.
const (
	// MethodSubmit accepts a job, unless its app runs commands.
	MethodSubmit = "Submit"
	// MethodSubmitExec accepts any job, those whose app runs commands
	// (see CommandRunner) included: rpcq.Master.SubmitExec.
	MethodSubmitExec = "SubmitExec"
	// MethodStatus reports one job.
	MethodStatus = "Status"
	// MethodList answers a page of jobs as a list; with no arguments,
	// the first page.
	MethodList = "List"
	// MethodListPage answers a page of jobs and the cursor of the next.
	MethodListPage = "ListPage"
	// MethodCancel stops a job.
	MethodCancel = "Cancel"
)

// BucketStream is the stream behind a key-value bucket, as JetStream
// names it.
func BucketStream(bucket string) string { return "KV_" + bucket }

// BucketSubjects are every key of a key-value bucket, as the subjects of
// its stream: a put, create, update or delete of a key is a publish there.
func BucketSubjects(bucket string) string { return "$KV." + bucket + ".>" }

// ObjectStoreStream is the stream behind an object store, as JetStream
// names it.
func ObjectStoreStream(bucket string) string { return "OBJ_" + bucket }

// BackingStreams are the streams behind the protocol's streams, buckets
// and object store, in the order Ensure opens them.
func BackingStreams() []string {
	return []string{StreamTasks, StreamEvents, BucketStream(BucketJobs), BucketStream(BucketCommits),
		BucketStream(BucketLineage), ObjectStoreStream(ObjectStoreData), BucketStream(BucketWorkers)}
}

// MasterSubject is the subject of a method of MasterService:
// rpcq.Master.<method>.
func MasterSubject(method string) string { return rpcq.Subject(MasterService, method) }

// Phase is a task's phase.
type Phase string

// The two phases of a job.
const (
	PhaseMap    Phase = "map"
	PhaseReduce Phase = "reduce"
)

// TaskSubject is the subject of task n of job's phase.
func TaskSubject(job string, phase Phase, n int) string {
	return fmt.Sprintf("%s.%s.%s.%d", taskPrefix, job, phase, n)
}

// JobTaskSubjects filters every task of one job, for purging them.
func JobTaskSubjects(job string) string { return taskPrefix + "." + job + ".>" }

// TaskSubjects is the task stream's subject filter.
func TaskSubjects() string { return taskPrefix + ".>" }

// ConsumerWorkers is the durable pull consumer every worker shares.
const ConsumerWorkers = "workers"

// TaskAckPrefix starts the reply subject of every task message the
// workers' consumer delivers: its acknowledgement subject.
const TaskAckPrefix = "$JS.ACK." + StreamTasks + "." + ConsumerWorkers + "."

// WorkerSubject is where a worker shows it lives: it subscribes there for
// as long as its connection is up, and a request there that finds nobody
// ("no responders") means its process is gone. id must be a ValidWorkerID.
func WorkerSubject(id string) string { return workerPrefix + "." + id }

// WorkerKey is a worker's key in BucketWorkers: its ID, which must be a
// ValidWorkerID.
func WorkerKey(id string) string { return id }

// WorkerSubjects are every worker's WorkerSubject.
func WorkerSubjects() string { return workerPrefix + ".>" }

// EventSubject is the subject of events of kind about job.
func EventSubject(job string, kind EventKind) string {
	return eventPrefix + "." + job + "." + string(kind)
}

// EventSubjects is the event stream's subject filter.
func EventSubjects() string { return eventPrefix + ".>" }

// MsgID is the deduplication ID of a task message: each attempt is new,
// because JetStream remembers IDs past the message's ack.
func MsgID(job string, phase Phase, n, attempt int) string {
	return job + "/" + string(phase) + "/" + strconv.Itoa(n) + "/" + strconv.Itoa(attempt)
}

// JobCommitKeys are the subjects of every commit record of job in the
// stream of BucketCommits.
func JobCommitKeys(job string) string { return "$KV." + BucketCommits + "." + job + ".>" }

// CommitKey is the commit record's key of task n of job's phase.
func CommitKey(job string, phase Phase, n int) string {
	return job + "." + string(phase) + "." + strconv.Itoa(n)
}

// InputObject is the name of an uploaded input, content-addressed.
func InputObject(digest string) string { return "inputs/" + digest }

// Execution names one execution of an attempt: its number and 32 random
// bits. The queue may hand one attempt to two workers (a redelivery after
// heartbeats went missing, a republication after a failover); outputs
// named by execution never overwrite each other, and a loser removing its
// own never touches the winner's.
func Execution(attempt int) string {
	var b [4]byte
	rand.Read(b[:])
	return strconv.Itoa(attempt) + "-" + hex.EncodeToString(b[:])
}

// MapOutputObject is where an execution of map task n writes partition r.
func MapOutputObject(job string, n int, execution string, r int) string {
	return fmt.Sprintf("jobs/%s/map/%d/%s/part-%d", job, n, execution, r)
}

// MapOutputJob is the job of a map output object's name; ok is false for
// any other object.
func MapOutputJob(name string) (job string, ok bool) {
	rest, found := strings.CutPrefix(name, "jobs/")
	if !found {
		return "", false
	}
	job, rest, _ = strings.Cut(rest, "/")
	return job, strings.HasPrefix(rest, "map/")
}

// ReduceOutputObject is where an execution of reduce task r writes.
func ReduceOutputObject(job string, r int, execution string) string {
	return fmt.Sprintf("jobs/%s/reduce/%d/%s/out", job, r, execution)
}

// OutputFile is the name `drover get` gives partition r's output.
func OutputFile(r int) string { return fmt.Sprintf("part-%05d", r) }
