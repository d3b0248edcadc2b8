package rpcq

import (
	"context"
	"fmt"
	"strings"
)

// A caller is a name a call carries as the last token of its subject,
// rpcq.<Service>.<Method>.<caller>, for a service started with
// ServerConfig.Callers. rpcq does not check it: NATS does, when a user's
// permissions let it publish to its own name's subjects alone, so that
// a server can trust it as the user's identity (auth's Submitter role is
// granted so). Without such permissions it is whatever the client says.

// MaxCallerLen bounds a caller's name.
const MaxCallerLen = 64

// ValidCaller reports whether name can be a caller: 1 to MaxCallerLen
// letters, digits, '-' and '_'.
func ValidCaller(name string) bool { return len(name) <= MaxCallerLen && validName(name) }

// CallerSubject is the subject of service.method called as caller.
func CallerSubject(service, method, caller string) string {
	return Subject(service, method) + "." + caller
}

type callerKey struct{}

// CallerFrom returns the caller a call came from; ok is false for a call
// sent to the method's own subject, without one.
func CallerFrom(ctx context.Context) (caller string, ok bool) {
	caller, ok = ctx.Value(callerKey{}).(string)
	return caller, ok
}

// WithCaller returns ctx as a handler's context is for a call from
// caller, for tests of handlers and for servers in the same process.
func WithCaller(ctx context.Context, caller string) context.Context {
	return context.WithValue(ctx, callerKey{}, caller)
}

// callerOf is the caller of a request to subject, served at
// methodSubject+".*": its last token, checked.
func callerOf(subject, methodSubject string) (string, error) {
	caller, ok := strings.CutPrefix(subject, methodSubject+".")
	if !ok || !ValidCaller(caller) {
		return "", Errorf(CodeBadRequest, "caller %.80q: want 1 to %d letters, digits, '-' and '_'", caller, MaxCallerLen)
	}
	return caller, nil
}

func checkCaller(name string) error {
	if name != "" && !ValidCaller(name) {
		return fmt.Errorf("%w: Caller %q: want 1 to %d letters, digits, '-' and '_'", ErrInvalidConfig, name, MaxCallerLen)
	}
	return nil
}

// callerEndpointSuffix names a method's caller endpoint, as `nats micro
// info` lists it: Submit's is Submit-caller.
const callerEndpointSuffix = "-caller"
