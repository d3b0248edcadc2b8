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
	// StreamEvents is the log of task events (started, failed, ...).
	StreamEvents = "DROVER_EVENTS"
	// StreamProgress holds the latest progress report of each task, on
	// ProgressSubject: one message per task, however long it runs, kept
	// only while it may still matter (DefaultProgressMaxAge).
	StreamProgress = "DROVER_PROGRESS"
	// BucketJobs holds job specs and state, keyed by job ID.
	BucketJobs = "drover-jobs"
	// BucketCommits holds task commit records, keyed by CommitKey.
	BucketCommits = "drover-commits"
	// BucketLineage maps a map task's lineage key to its committed output.
	BucketLineage = "drover-lineage"
	// BucketWorkers is the worker registry: each live worker's
	// WorkerInfo under its ID, gone WorkerTTL after its last report.
	BucketWorkers = "drover-workers"
	// ObjectStoreData holds the data jobs make: map outputs and job
	// outputs, which only workers and masters write.
	ObjectStoreData = "drover-data"
	// ObjectStoreInputs holds uploaded inputs, which submitters write:
	// kept apart from ObjectStoreData, so that a submitter cannot rewrite
	// a map output before its reduce reads it.
	ObjectStoreInputs = "drover-inputs"
	// MasterService is the rpcq service of the master's control API; its
	// methods are the Method constants, on MasterSubject.
	MasterService = "Master"
	// MasterStandbyService is the micro service, with no endpoints, that
	// a master process registers while it stands by, not leading: a
	// command that finds no MasterService answering learns from it that
	// a master is about to lead (the leader's lease runs out a TTL after
	// it died), not that none runs.
	MasterStandbyService = "MasterStandby"

	taskPrefix     = "drover.task"
	eventPrefix    = "drover.event"
	progressPrefix = "drover.progress"
	workerPrefix   = "drover.worker"
)

// Methods of MasterService. Each is one subject (MasterSubject), so that
// NATS permissions can grant them by role: Submit to submitters,
// SubmitExec to the exec-submitter role alone, Status, List and ListPage
// to readers, Cancel and Delete to submitters.
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
	// MethodDelete removes an ended job, its outputs and its records.
	MethodDelete = "Delete"
	// MethodOutput reads a done job's output, one object store chunk a
	// call, so that those who may see a job read its output through the
	// master and need no permission on the object store.
	MethodOutput = "Output"
	// MethodRuns reads a job's spec, its runs' events and its commits, a
	// page a call: what a job's page in drover ui draws.
	MethodRuns = "Runs"
)

// BucketStream is the stream behind a key-value bucket, as JetStream
// names it.
func BucketStream(bucket string) string { return "KV_" + bucket }

// BucketSubjects are every key of a key-value bucket, as the subjects of
// its stream: a put, create, update or delete of a key is a publish there.
func BucketSubjects(bucket string) string { return "$KV." + bucket + ".>" }

// BucketKey is the subject of key in a key-value bucket's stream: a purge
// of the stream there removes the key, its history included.
func BucketKey(bucket, key string) string { return "$KV." + bucket + "." + key }

// ObjectStoreStream is the stream behind an object store, as JetStream
// names it.
func ObjectStoreStream(bucket string) string { return "OBJ_" + bucket }

// ObjectChunks is the subject of the chunks of the object whose NUID
// (jetstream.ObjectInfo.NUID) is nuid in an object store's stream.
func ObjectChunks(bucket, nuid string) string { return "$O." + bucket + ".C." + nuid }

// BackingStreams are the streams behind the protocol's streams, buckets
// and object store, in the order Ensure opens them.
func BackingStreams() []string {
	return []string{StreamTasks, StreamEvents, StreamProgress, BucketStream(BucketJobs), BucketStream(BucketCommits),
		BucketStream(BucketLineage), ObjectStoreStream(ObjectStoreData), ObjectStoreStream(ObjectStoreInputs), BucketStream(BucketWorkers)}
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

// TaskSubject is the subject of task n of job's phase, for an app that
// runs no commands: ConsumerWorkers takes it.
func TaskSubject(job string, phase Phase, n int) string {
	return fmt.Sprintf("%s.%s.%s.%d", taskPrefix, job, phase, n)
}

// ExecTaskSubject is the subject of task n of job's phase, for an app
// that runs commands (see RunsCommands): ConsumerExecWorkers takes it,
// so that a worker not allowed to run commands never even receives it.
func ExecTaskSubject(job string, phase Phase, n int) string {
	return TaskSubject(job, phase, n) + "." + execToken
}

// execToken ends an ExecTaskSubject: one token more than a TaskSubject,
// so that the two consumers' filters take disjoint sets of subjects, as a
// work queue requires.
const execToken = "exec"

// JobTaskSubjects filters every task of one job, for purging them.
func JobTaskSubjects(job string) string { return taskPrefix + "." + job + ".>" }

// TaskSubjects is the task stream's subject filter.
func TaskSubjects() string { return taskPrefix + ".>" }

// ConsumerWorkers is the durable pull consumer every worker shares: the
// tasks on TaskSubject.
const ConsumerWorkers = "workers"

// ConsumerExecWorkers is the durable pull consumer that workers allowed
// to run commands share besides ConsumerWorkers: the tasks on
// ExecTaskSubject.
const ConsumerExecWorkers = "exec-workers"

// consumerFilter is the subjects consumer takes, one of the two above.
func consumerFilter(consumer string) string {
	if consumer == ConsumerExecWorkers {
		return taskPrefix + ".*.*.*." + execToken
	}
	return taskPrefix + ".*.*.*"
}

// TaskConsumers are the task stream's consumers.
func TaskConsumers() []string { return []string{ConsumerWorkers, ConsumerExecWorkers} }

// TaskAckPrefix starts the reply subject of every task message consumer
// (one of TaskConsumers) delivers: its acknowledgement subject.
func TaskAckPrefix(consumer string) string {
	return "$JS.ACK." + StreamTasks + "." + consumer + "."
}

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

// JobEventSubjects filters every event of one job.
func JobEventSubjects(job string) string { return eventPrefix + "." + job + ".>" }

// ProgressSubject is where the attempts of task n of job's phase report
// their progress (EventProgress): the progress stream keeps the last
// message of each.
func ProgressSubject(job string, phase Phase, n int) string {
	return fmt.Sprintf("%s.%s.%s.%d", progressPrefix, job, phase, n)
}

// ProgressSubjects is the progress stream's subject filter.
func ProgressSubjects() string { return progressPrefix + ".>" }

// JobProgressSubjects filters the progress of every task of one job.
func JobProgressSubjects(job string) string { return progressPrefix + "." + job + ".>" }

// MsgID is the deduplication ID of a task message: each attempt is new,
// because JetStream remembers IDs past the message's ack.
func MsgID(job string, phase Phase, n, attempt int) string {
	return job + "/" + string(phase) + "/" + strconv.Itoa(n) + "/" + strconv.Itoa(attempt)
}

// CommitKey is the commit record's key of task n of job's phase.
func CommitKey(job string, phase Phase, n int) string {
	return job + "." + string(phase) + "." + strconv.Itoa(n)
}

// JobMapCommitKeys matches the commit record keys of every map task of
// job.
func JobMapCommitKeys(job string) string { return job + "." + string(PhaseMap) + ".*" }

// JobCommitKeys matches the commit record keys of every task of job.
func JobCommitKeys(job string) string { return job + ".>" }

// InputObject is the name of an uploaded input in ObjectStoreInputs,
// content-addressed.
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
	return MapOutputPrefix(job, n, execution) + "/part-" + strconv.Itoa(r)
}

// MapOutputPrefix is the prefix of every object an execution of map task
// n writes (see MapOutputs).
func MapOutputPrefix(job string, n int, execution string) string {
	return "jobs/" + job + "/map/" + strconv.Itoa(n) + "/" + execution
}

// MapOutputPrefixOf is the MapOutputPrefix of a map output object's name;
// ok is false for any other object.
func MapOutputPrefixOf(name string) (prefix string, ok bool) {
	if _, isMap := MapOutputJob(name); !isMap {
		return "", false
	}
	i := strings.LastIndex(name, "/part-")
	if i < 0 {
		return "", false
	}
	return name[:i], true
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

// ObjectJob is the job of a map or reduce output object's name; ok is
// false for any other object (an input).
func ObjectJob(name string) (job string, ok bool) {
	rest, found := strings.CutPrefix(name, "jobs/")
	if !found {
		return "", false
	}
	job, _, ok = strings.Cut(rest, "/")
	return job, ok
}

// ReduceOutputObject is where an execution of reduce task r writes.
func ReduceOutputObject(job string, r int, execution string) string {
	return fmt.Sprintf("jobs/%s/reduce/%d/%s/out", job, r, execution)
}

// OutputFile is the name `drover get` gives partition r's output.
func OutputFile(r int) string { return fmt.Sprintf("part-%05d", r) }
