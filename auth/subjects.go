package auth

import (
	"github.com/nats-io/nats.go/micro"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/timesvc"
)

// The NATS and JetStream subjects the roles are granted, built from mr's
// names: JetStream API calls are requests on $JS.API.<...>, key-value
// writes publishes to $KV.<bucket>.<key>, object store writes publishes to
// $O.<bucket>.C.<nuid> (chunks) and $O.<bucket>.M.<name> (metadata),
// replies arrive on the user's own inboxes, _INBOX_<nkey>.<...>.
const (
	jsAPI = "$JS.API"
	// inboxes is where every reply arrives: JetStream API answers, publish
	// acknowledgements, messages of consumers, rpcq replies. {nkey} stands
	// for the user's public key (see InboxPrefix and UserPermissions).
	inboxes = inboxPrefix + nkeyPlaceholder + ".>"
	// inboxPrefix starts every user's inbox prefix.
	inboxPrefix     = "_INBOX_"
	nkeyPlaceholder = "{nkey}"
	// userPlaceholder stands for the user's name in the subjects of its
	// calls to the master (see ownCalls).
	userPlaceholder = "{user}"
	// jsAccountInfo is the JetStream account information request.
	jsAccountInfo = jsAPI + ".INFO"
)

// Streams behind the protocol's buckets, as JetStream names them.
var (
	streamJobs    = mr.BucketStream(mr.BucketJobs)
	streamCommits = mr.BucketStream(mr.BucketCommits)
	streamLineage = mr.BucketStream(mr.BucketLineage)
	streamWorkers = mr.BucketStream(mr.BucketWorkers)
	// allStreams are the protocol's streams, in the order mr.Ensure opens them.
	allStreams = mr.BackingStreams()
)

// kvKeys are every key of bucket, as subjects.
func kvKeys(bucket string) string { return mr.BucketSubjects(bucket) }

// objChunks and objMeta are the subjects of the object store's chunks and
// metadata records; objChunk those of one object's chunks, which a
// reader's consumer filters on.
func objChunks(bucket string) string { return "$O." + bucket + ".C.>" }
func objChunk(bucket string) string  { return "$O." + bucket + ".C.*" }
func objMeta(bucket string) string   { return "$O." + bucket + ".M.>" }

// streamAPI is a stream request: op is INFO, CREATE, UPDATE, PURGE,
// MSG.GET or MSG.DELETE.
func streamAPI(op, stream string) string { return jsAPI + ".STREAM." + op + "." + stream }

// consumerAPI is a consumer request on stream: op is CREATE, INFO, DELETE
// or MSG.NEXT, and rest the consumer's name and, for CREATE, its filter.
func consumerAPI(op, stream, rest string) string {
	return jsAPI + ".CONSUMER." + op + "." + stream + "." + rest
}

// directGet is a direct get of the last message on subject of stream,
// as key-value and object store reads are.
func directGet(stream, subject string) string { return jsAPI + ".DIRECT.GET." + stream + "." + subject }

// acks are the acknowledgement subjects of consumer's messages.
func acks(stream, consumer string) string { return "$JS.ACK." + stream + "." + consumer + ".>" }

// flowControl is where a push consumer of stream (a key-value watcher, an
// object being read) answers the server's flow control.
func flowControl(stream string) string { return "$JS.FC." + stream + ".>" }

// discovery is the micro discovery subject of verb for one service:
// $SRV.<verb>.<service>.
func discovery(verb micro.Verb, service string) string {
	s, _ := micro.ControlSubject(verb, service, "")
	return s
}

// serviceSubjects are the subjects a micro service named service
// subscribes to: its discovery subjects, for every verb, with and without
// its name and instance ID.
func serviceSubjects(service string) []string {
	var subs []string
	for _, verb := range []micro.Verb{micro.PingVerb, micro.InfoVerb, micro.StatsVerb} {
		all, _ := micro.ControlSubject(verb, "", "")
		subs = append(subs, all, discovery(verb, service), discovery(verb, service)+".*")
	}
	return subs
}

// rpcqService is every method subject of an rpcq service.
func rpcqService(service string) string { return rpcq.Subject(service, "*") }

// rpcqCallers is every method subject of an rpcq service, called as anyone
// (rpcq.CallerSubject).
func rpcqCallers(service string) string { return rpcq.CallerSubject(service, "*", "*") }

// ownCalls are the master's methods called as the user, {user}.
func ownCalls(methods ...string) []string {
	return mapped(methods, func(m string) string { return rpcq.CallerSubject(mr.MasterService, m, userPlaceholder) })
}

// kvService is the key/value example's service name (examples/kv's
// ServiceName; a test keeps them the same).
const kvService = "KV"

// timeNow is the time service's one method.
const timeNow = timesvc.Subject

// InboxPrefix is the prefix of the inboxes of the user whose public nkey
// is publicKey, for nats.CustomInboxPrefix: each user of a configuration
// that ServerConfig writes may subscribe to its own inboxes alone, so that
// no user reads the replies meant for another.
func InboxPrefix(publicKey string) string { return inboxPrefix + publicKey }
