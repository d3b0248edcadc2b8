package auth

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/timesvc"
)

// Role is what a NATS user of a Drover deployment is for.
type Role string

// The roles. Each is granted exactly what its processes do on NATS; see
// Grants for the list and Permissions for the subjects.
const (
	// Master is the master process: it creates and updates the streams,
	// buckets and the workers' consumer, publishes tasks, and serves
	// rpcq.Master.* and rpcq.Time.Now.
	Master Role = "master"
	// Worker is a worker process: it takes tasks from the workers'
	// consumer, reads inputs, writes outputs and commit records, reports
	// events, and asks the master's time. It cannot publish tasks.
	Worker Role = "worker"
	// Submitter submits jobs that run no commands, follows and cancels
	// them, uploads inputs and reads outputs. Its calls to the master carry
	// its user's name, which NATS lets it send and no other: the master
	// shows it and lets it cancel its own jobs alone.
	Submitter Role = "submitter"
	// ExecSubmitter is Submitter and rpcq.Master.SubmitExec: jobs that run
	// commands on workers started with --allow-exec.
	ExecSubmitter Role = "exec-submitter"
	// Reader sees jobs and their outputs: status, list, get.
	Reader Role = "reader"
	// KVServer is the key/value example's server (cmd/kvserver): it
	// serves rpcq.KV.* and nothing else.
	KVServer Role = "kvserver"
	// Admin may do anything in the account, as an operator with the nats
	// CLI does.
	Admin Role = "admin"
)

// OwnJobsOnly reports whether r's users see and cancel their own jobs
// alone: their calls to the master carry their user's name
// (rpcq.CallerSubject), the only name their permissions let them send.
func (r Role) OwnJobsOnly() bool { return r == Submitter || r == ExecSubmitter }

// Roles are every role, in the order configurations list them.
func Roles() []Role { return []Role{Master, Worker, Submitter, ExecSubmitter, Reader, KVServer, Admin} }

// ParseRole returns the role named s; an unknown name is an error wrapping
// ErrUnknownRole that lists the roles.
func ParseRole(s string) (Role, error) {
	if r := Role(s); slices.Contains(Roles(), r) {
		return r, nil
	}
	names := make([]string, 0, len(Roles()))
	for _, r := range Roles() {
		names = append(names, string(r))
	}
	return "", fmt.Errorf("%w %q: want one of %s", ErrUnknownRole, s, strings.Join(names, ", "))
}

// Permissions are what one NATS user may do, as nats-server's
// configuration states them. Subjects may hold NATS wildcards.
type Permissions struct {
	// Publish are the subjects the user may publish to. A JetStream API
	// call, a key-value write and an object store write are publishes.
	Publish []string
	// Subscribe are the subjects the user may subscribe to, in a queue
	// group or not.
	Subscribe []string
	// Responses lets the user answer each request it receives
	// (nats-server's allow_responses), up to MaxResponses times within
	// ResponseExpiry: what a service needs, and only a service.
	Responses bool
}

// Bounds of the answers to one request that Responses allows. A request
// to $SRV.PING reaches every instance of every micro service on the
// connection (rpcq runs rpcq.DefaultConcurrency of each, the master two
// services), and each answers.
const (
	MaxResponses   = 256
	ResponseExpiry = 2 * time.Minute
)

// Grant is one thing a role may do, and the subjects it takes.
type Grant struct {
	// What it is, in a user's words, for tables and -h pages.
	What      string
	Publish   []string
	Subscribe []string
	Responses bool
}

// The grants roles are made of.
var (
	// bind is what mr.Open, Bind and Await need of a deployment a master
	// made: the streams' and the workers' consumer's information, and
	// replies.
	bind = Grant{
		What: "open the deployment the master made (stream, bucket and consumer info)",
		Publish: append(mapped(allStreams, func(s string) string { return streamAPI("INFO", s) }),
			mapped(mr.TaskConsumers(), func(c string) string { return consumerAPI("INFO", mr.StreamTasks, c) })...),
		Subscribe: []string{inboxes},
	}
	discover = Grant{
		What: "find services and their endpoints ($SRV ping, info, stats: drover services, nats micro ls)",
		Publish: flatMapped([]micro.Verb{micro.PingVerb, micro.InfoVerb, micro.StatsVerb}, func(v micro.Verb) []string {
			all, _ := micro.ControlSubject(v, "", "")
			return []string{all, all + ".>"}
		}),
	}
	// The master's methods a submitter calls, as its own user
	// (rpcq.CallerSubject with {user}, which UserPermissions fills in).
	submit = Grant{
		What:    "submit jobs that run no commands, as itself (rpcq.Master.Submit.<user>)",
		Publish: ownCalls(mr.MethodSubmit),
	}
	submitExec = Grant{
		What:    "submit jobs that run commands, as itself (rpcq.Master.SubmitExec.<user>)",
		Publish: ownCalls(mr.MethodSubmitExec),
	}
	cancelOwnJobs = Grant{
		What:    "cancel and delete its own jobs (rpcq.Master.Cancel.<user>, Delete.<user>)",
		Publish: ownCalls(mr.MethodCancel, mr.MethodDelete),
	}
	// Outputs and runs are read through the master (mr.MethodOutput,
	// MethodRuns), which knows whose job is whose: no permission on the
	// object store, the event stream or the buckets could tell.
	seeOwnJobs = Grant{
		What:    "see its own jobs, their runs and outputs (rpcq.Master.Status.<user>, List.<user>, ListPage.<user>, Output.<user>, Runs.<user>)",
		Publish: ownCalls(seeJobsMethods...),
	}
	seeJobs = Grant{
		What:    "see every job, its runs and outputs (rpcq.Master.Status, List, ListPage, Output, Runs)",
		Publish: mapped(seeJobsMethods, mr.MasterSubject),
	}
	// readData is an object store Get: the object's metadata by direct
	// get, then an ordered push consumer of its chunks, which answers
	// flow control and is deleted at the end. Only workers have it.
	readData   = readObjects(mr.ObjectStoreData, "read what jobs make: map outputs and job outputs")
	readInputs = readObjects(mr.ObjectStoreInputs, "read uploaded inputs")
	// writeData is an object store Put: a look at the metadata there is,
	// then the chunks and the metadata record; and Delete, a metadata
	// record that says so, then a purge of the chunks. A failed Put
	// purges its chunks, a worker removes a failed or losing attempt's
	// outputs. The purge request names its subject in its body, where no
	// permission looks, so a writer may purge any object's chunks in the
	// bucket: no more than it can do with a metadata record marking the
	// object deleted. Inputs are a bucket of their own, so that those who
	// upload them cannot touch what workers write.
	writeData   = writeObjects(mr.ObjectStoreData, "write and remove map outputs and job outputs")
	writeInputs = writeObjects(mr.ObjectStoreInputs, "upload inputs")
	pullTasks   = Grant{
		What: "take tasks from the workers' consumers, heartbeat and acknowledge them, see whether one is still queued",
		Publish: append(flatMapped(mr.TaskConsumers(), func(c string) []string {
			return []string{consumerAPI("MSG.NEXT", mr.StreamTasks, c), acks(mr.StreamTasks, c)}
		}), streamAPI("MSG.GET", mr.StreamTasks)),
	}
	commit = Grant{
		What: "read and write commit records, record lineage (drover-commits, drover-lineage)",
		Publish: []string{
			directGet(streamCommits, kvKeys(mr.BucketCommits)),
			kvKeys(mr.BucketCommits),
			kvKeys(mr.BucketLineage),
			// A reduce reads its job's map commits in one watch.
			consumerAPI("CREATE", streamCommits, "*."+mr.BucketKey(mr.BucketCommits, "*."+string(mr.PhaseMap)+".*")),
			consumerAPI("DELETE", streamCommits, "*"),
			flowControl(streamCommits),
		},
	}
	reportEvents = Grant{
		What:    "report task events and progress (drover.event.>, drover.progress.>)",
		Publish: []string{mr.EventSubjects(), mr.ProgressSubjects()},
	}
	// showAlive is a worker's subscription to its mr.WorkerSubject, where
	// it receives nothing: the master finds it there, or finds it gone.
	showAlive = Grant{
		What:      "show that it lives (drover.worker.<id>)",
		Subscribe: []string{mr.WorkerSubjects()},
	}
	// announce is a worker's registry entry, put every
	// mr.WorkerReportEvery and deleted when it stops. NATS permissions
	// cannot tie a key to the user who writes it, so a worker may write
	// any worker's entry: readers check every entry's fields
	// (mr.DecodeWorkerInfo), and the master probes a worker on its
	// subject before it hands its tasks back.
	announce = Grant{
		What:    "announce itself in the worker registry (drover-workers)",
		Publish: []string{kvKeys(mr.BucketWorkers)},
	}
	// serveKV is the key/value service. Its large replies go out on a
	// connection of their own (rpcq's SeparateLargeReplies), which
	// allow_responses does not cover: it may publish to any inbox.
	serveKV = Grant{
		What:      "serve rpcq.KV.* with its $SRV discovery, and answer it, large replies from a connection of their own",
		Subscribe: append([]string{rpcqService(kvService), inboxes}, serviceSubjects(kvService)...),
		Publish:   []string{"_INBOX.>", inboxPrefix + "*.>"},
		Responses: true,
	}
	changeKV = Grant{
		What:    "call the key/value service (rpcq.KV.Put, Append, Get)",
		Publish: []string{rpcqService(kvService)},
	}
	readKV = Grant{
		What:    "read the key/value service (rpcq.KV.Get)",
		Publish: []string{rpcq.Subject(kvService, "Get")},
	}
	// seeWorkers is mr.ListWorkers: a watch of the registry, an ordered
	// push consumer that answers flow control and is deleted at the end.
	seeWorkers = Grant{
		What: "see the live workers (drover-workers: drover workers)",
		Publish: []string{
			consumerAPI("CREATE", streamWorkers, "*."+kvKeys(mr.BucketWorkers)),
			consumerAPI("DELETE", streamWorkers, "*"),
			flowControl(streamWorkers),
		},
	}
	probeWorkers = Grant{
		What:    "look for the workers of running tasks, and hand back the tasks of those gone (drover.worker.>)",
		Publish: []string{mr.WorkerSubjects()},
	}
	askTime = Grant{
		What:    "ask the master's time (rpcq.Time.Now)",
		Publish: []string{timeNow, discovery(micro.PingVerb, timesvc.Service), discovery(micro.InfoVerb, timesvc.Service)},
	}
	// own is everything a master does to the protocol's streams, and to
	// no other stream: it creates and updates them, watches the buckets,
	// consumes events, purges a cancelled job's tasks, removes objects.
	own = Grant{
		What: "create, update and use the Drover streams, buckets and consumer, and no other",
		Publish: append(append([]string{jsAccountInfo}, flatMapped(allStreams, func(s string) []string {
			return []string{
				streamAPI("INFO", s), streamAPI("CREATE", s), streamAPI("UPDATE", s), streamAPI("PURGE", s),
				streamAPI("MSG.GET", s), streamAPI("MSG.DELETE", s),
				jsAPI + ".DIRECT.GET." + s, directGet(s, ">"),
				jsAPI + ".CONSUMER.*." + s, consumerAPI("*", s, ">"),
				consumerAPI("DURABLE.CREATE", s, ">"), consumerAPI("MSG.NEXT", s, ">"),
				"$JS.ACK." + s + ".>", flowControl(s),
			}
		})...), kvKeys(mr.BucketJobs), kvKeys(mr.BucketCommits), kvKeys(mr.BucketLineage),
			objChunks(mr.ObjectStoreData), objMeta(mr.ObjectStoreData)),
		Subscribe: []string{inboxes},
	}
	publishTasks = Grant{
		What:    "publish tasks and their events (drover.task.>, drover.event.>)",
		Publish: []string{mr.TaskSubjects(), mr.EventSubjects()},
	}
	serve = Grant{
		What: "serve rpcq.Master.* (from anyone and as its callers) and rpcq.Time.Now, with their $SRV discovery, stand by as MasterStandby, and answer them",
		Subscribe: append(append(append([]string{rpcqService(mr.MasterService), rpcqCallers(mr.MasterService), rpcqService(timesvc.Service)},
			serviceSubjects(mr.MasterService)...), serviceSubjects(timesvc.Service)...), serviceSubjects(mr.MasterStandbyService)...),
		Responses: true,
	}
	everything = Grant{
		What:      "anything in the account",
		Publish:   []string{">"},
		Subscribe: []string{">"},
	}
)

// seeJobsMethods are the master's methods that show jobs.
var seeJobsMethods = []string{mr.MethodStatus, mr.MethodList, mr.MethodListPage, mr.MethodOutput, mr.MethodRuns}

// readObjects is an object store Get from bucket.
func readObjects(bucket, what string) Grant {
	stream := mr.ObjectStoreStream(bucket)
	return Grant{
		What: what + " (" + bucket + ")",
		Publish: []string{
			directGet(stream, objMeta(bucket)),
			consumerAPI("CREATE", stream, "*."+objChunk(bucket)),
			consumerAPI("DELETE", stream, "*"),
			flowControl(stream),
		},
	}
}

// writeObjects is an object store Put and Delete in bucket.
func writeObjects(bucket, what string) Grant {
	stream := mr.ObjectStoreStream(bucket)
	return Grant{
		What:    what + " (" + bucket + ")",
		Publish: []string{directGet(stream, objMeta(bucket)), objChunks(bucket), objMeta(bucket), streamAPI("PURGE", stream)},
	}
}

// Grants are what role may do, one Grant per thing; role must be one of
// Roles. The slice is the caller's.
func Grants(role Role) []Grant {
	switch role {
	case Master:
		return []Grant{own, publishTasks, serve, probeWorkers, makeTasks, useTasks}
	case Worker:
		return []Grant{bind, pullTasks, readInputs, readData, writeData, commit, reportEvents, askTime, showAlive, announce, useTasks}
	case Submitter:
		return []Grant{bind, discover, submit, seeOwnJobs, cancelOwnJobs, writeInputs, seeWorkers, changeKV, useTasks}
	case ExecSubmitter:
		return []Grant{bind, discover, submit, submitExec, seeOwnJobs, cancelOwnJobs, writeInputs, seeWorkers, changeKV, useTasks}
	case Reader:
		return []Grant{bind, discover, seeJobs, seeWorkers, readKV, seeTasks}
	case KVServer:
		return []Grant{serveKV}
	case Admin:
		return []Grant{everything}
	}
	return nil
}

// PermissionsOf are the NATS permissions of role: the subjects of its
// Grants, each once, in their order, with {nkey} standing for the
// user's public key in its inboxes and {user} for its name in its calls
// to the master (UserPermissions fills them in). An unknown role has none.
func PermissionsOf(role Role) Permissions {
	var p Permissions
	for _, g := range Grants(role) {
		p.Publish = appendNew(p.Publish, g.Publish...)
		p.Subscribe = appendNew(p.Subscribe, g.Subscribe...)
		p.Responses = p.Responses || g.Responses
	}
	return p
}

// UserPermissions are the NATS permissions of u: those of its role, with
// its own inboxes (InboxPrefix) as the only ones it may subscribe to, and
// its own name as the only one it may call the master as.
func UserPermissions(u User) Permissions {
	p := PermissionsOf(u.Role)
	fill := strings.NewReplacer(nkeyPlaceholder, u.PublicKey, userPlaceholder, u.Name)
	p.Publish = mapped(p.Publish, fill.Replace)
	p.Subscribe = mapped(p.Subscribe, fill.Replace)
	return p
}

func appendNew(list []string, subjects ...string) []string {
	for _, s := range subjects {
		if !slices.Contains(list, s) {
			list = append(list, s)
		}
	}
	return list
}

func mapped[T any](in []T, f func(T) string) []string {
	out := make([]string, 0, len(in))
	for _, v := range in {
		out = append(out, f(v))
	}
	return out
}

func flatMapped[T any](in []T, f func(T) []string) []string {
	var out []string
	for _, v := range in {
		out = append(out, f(v)...)
	}
	return out
}
