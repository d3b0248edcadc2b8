package rpcq

import (
	"fmt"
	"strings"

	"github.com/drover-dev/drover/internal/token"
)

// SubjectPrefix starts the subject of every rpcq method:
// rpcq.<Service>.<Method>.
const SubjectPrefix = "rpcq"

// Request and reply headers. The Nats- prefix belongs to NATS itself, so
// ours start with Rpcq-; errors use micro's Nats-Service-Error headers.
const (
	// HeaderID identifies a call; it is the same on every retry of it.
	HeaderID = "Rpcq-Id"
	// HeaderClient is the calling client's ID: 32 hex digits, its birth
	// time (Unix nanoseconds by its clock, big-endian) then 64 random bits.
	HeaderClient = "Rpcq-Client"
	// HeaderSeq is the call's sequence number within its client, from 1.
	HeaderSeq = "Rpcq-Seq"
	// HeaderAck is the client's watermark: it has seen the outcome of
	// every call up to this sequence number and will not send them again,
	// so a duplicate table may forget them. Sent on calls that use one.
	HeaderAck = "Rpcq-Ack"
	// HeaderSent is when an at-most-once request was sent, in Unix
	// nanoseconds by the client's clock, so that a server refuses one
	// sent before it started: a restarted server does not run requests
	// whose callers may have given up on them.
	HeaderSent = "Rpcq-Sent"
	// HeaderAttempt counts the sends of one call; absent on the first.
	HeaderAttempt = "Rpcq-Attempt"
	// HeaderDeadline is the time the caller has left, as a Go duration
	// ("1.5s"), when the request was sent. It is relative, as gRPC's
	// grpc-timeout is, so that clock skew between machines cannot make a
	// server run work its caller gave up on, or refuse work still wanted.
	HeaderDeadline = "Rpcq-Deadline"
	// HeaderContentType names the body's encoding (ContentTypeMsgpack or
	// ContentTypeJSON). Without it, a body that is empty, is JSON text
	// (any JSON value), or begins with '{' or '[' is read as JSON,
	// anything else as msgpack; the client sends it only where that guess
	// would be wrong, as for the msgpack integers 48 to 57 (ASCII digits).
	HeaderContentType = "Content-Type"
	// HeaderErrorCode and HeaderError carry a remote error: micro's
	// Nats-Service-Error-Code and Nats-Service-Error.
	HeaderErrorCode = "Nats-Service-Error-Code"
	HeaderError     = "Nats-Service-Error"
)

// Metadata keys rpcq publishes through micro.
const (
	// MetadataMode is the endpoint metadata key of the method's Mode.
	MetadataMode = "rpcq.mode"
	// MetadataMethods is the service metadata key listing every method,
	// comma separated. It is complete from the moment the service answers
	// $SRV.INFO, unlike its endpoint list, which grows as endpoints subscribe.
	MetadataMethods = "rpcq.methods"
)

// validName reports whether s can be a service or method name (what micro
// accepts, and never a subject wildcard).
func validName(s string) bool { return token.Valid(s) }

// Subject is the NATS subject of service.method.
func Subject(service, method string) string {
	return SubjectPrefix + "." + service + "." + method
}

// serviceSubject is the subject prefix micro groups a service's endpoints under.
func serviceSubject(service string) string { return SubjectPrefix + "." + service }

// splitServiceMethod checks and splits "Service.Method".
func splitServiceMethod(serviceMethod string) (service, method string, err error) {
	service, method, ok := strings.Cut(serviceMethod, ".")
	if !ok || !validName(service) || !validName(method) {
		return "", "", fmt.Errorf("rpcq: %q is not of the form Service.Method", serviceMethod)
	}
	return service, method, nil
}
