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
// ours is Rpcq; errors use micro's Nats-Service-Error headers.
const (
	// HeaderRequest says who sent a request and when it must be done by,
	// in fields separated by spaces, each at most once:
	//
	//	id=<client>-<seq>  the call's identity, the same on every resend:
	//	                   the client's ID (32 hex digits, its birth time in
	//	                   Unix nanoseconds by its clock, big-endian, then 64
	//	                   random bits) and the call's number within it, from 1
	//	d=<duration>       the time the caller has left, as a Go duration
	//	                   ("1.5s"); relative, as gRPC's grpc-timeout is, so
	//	                   that clock skew between machines cannot make a
	//	                   server run work its caller gave up on, or refuse
	//	                   work still wanted
	//	a=<ack>            the client's watermark: it has seen the outcome of
	//	                   every call up to this number and will not send
	//	                   them again, so a duplicate table may forget them;
	//	                   sent on calls that use one
	//	t=<sent>           when an at-most-once request was sent, in Unix
	//	                   nanoseconds by the client's clock, so that a
	//	                   restarted server refuses one sent before it started
	//	n=<attempt>        the send number, on resends only
	//
	// A request without it (from a shell) runs without a deadline of its
	// caller's and outside the duplicate table.
	HeaderRequest = "Rpcq"
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
