package rpcq

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
)

// Error codes carried in the Nats-Service-Error-Code header, as HTTP uses them.
const (
	CodeBadRequest       = 400 // the arguments could not be decoded
	CodeUnknownMethod    = 404 // the service has no such method
	CodeDeadline         = 408 // the caller's deadline passed before the call ran
	CodeDuplicateRunning = 409 // a duplicate of a call that is still running
	CodeGone             = 410 // the client expired, or the request is stale; not run now
	CodeReplyTooLarge    = 413 // the call ran, but its reply exceeds the max payload
	CodeOutcomeUnknown   = 424 // a duplicate of a call that ran, or may have, whose reply is gone; not run again
	CodeInternal         = 500 // the handler failed or panicked
	CodeUnavailable      = 503 // the server is shutting down; the call did not run
)

// RemoteError is an error the server answered with. Handlers may return one
// (see Errorf) to choose the code; any other error is sent as CodeInternal.
type RemoteError struct {
	Code    int
	Message string
}

func (e *RemoteError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("rpcq: remote error %d", e.Code)
	}
	return fmt.Sprintf("rpcq: remote error %d: %s", e.Code, e.Message)
}

// Is reports whether target is a *RemoteError with the same code and, if
// target has one, the same message: errors.Is(err, rpcq.ErrUnknownMethod).
// A CodeDeadline error also matches ErrTimeout and context.DeadlineExceeded.
func (e *RemoteError) Is(target error) bool {
	if e.Code == CodeDeadline && (target == ErrTimeout || target == context.DeadlineExceeded) {
		return true
	}
	t, ok := target.(*RemoteError)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// Timeout reports whether the server gave up at the caller's deadline.
func (e *RemoteError) Timeout() bool { return e.Code == CodeDeadline }

// Errorf makes a *RemoteError with the given code, for a handler to return.
func Errorf(code int, format string, args ...any) *RemoteError {
	return &RemoteError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels that match any *RemoteError with their code.
var (
	ErrBadRequest       = &RemoteError{Code: CodeBadRequest}
	ErrUnknownMethod    = &RemoteError{Code: CodeUnknownMethod}
	ErrDeadline         = &RemoteError{Code: CodeDeadline}
	ErrDuplicateRunning = &RemoteError{Code: CodeDuplicateRunning}
	ErrGone             = &RemoteError{Code: CodeGone}
	ErrReplyTooLarge    = &RemoteError{Code: CodeReplyTooLarge}
	ErrOutcomeUnknown   = &RemoteError{Code: CodeOutcomeUnknown}
	ErrInternal         = &RemoteError{Code: CodeInternal}
	ErrUnavailable      = &RemoteError{Code: CodeUnavailable}
)

// Errors of the client and the server themselves.
var (
	// ErrInvalidConfig wraps every configuration error.
	ErrInvalidConfig = errors.New("rpcq: invalid config")
	// ErrNoResponders means no server took the request, retries included:
	// the call certainly did not run.
	ErrNoResponders = errors.New("rpcq: no responders")
	// ErrTimeout means no reply came before the deadline. The call may or
	// may not have run. Errors that match it also match
	// context.DeadlineExceeded.
	ErrTimeout = errors.New("rpcq: timeout")
	// ErrMaxPayload means a request was larger than the server accepts;
	// nothing was sent.
	ErrMaxPayload = errors.New("rpcq: payload exceeds the server's max payload")
	// ErrClosed means the client was closed.
	ErrClosed = errors.New("rpcq: client closed")
	// ErrStarted means a server was changed after Start.
	ErrStarted = errors.New("rpcq: server already started")
)

// timeoutError is the error of a call whose deadline passed.
type timeoutError struct {
	method   string
	attempts int
}

func (e *timeoutError) Error() string {
	return fmt.Sprintf("rpcq: %s: timeout after %d attempt(s)", e.method, e.attempts)
}

func (e *timeoutError) Is(target error) bool {
	return target == ErrTimeout || target == context.DeadlineExceeded
}

// Timeout reports true, as net.Error's Timeout does.
func (e *timeoutError) Timeout() bool { return true }

// DecodeError means a reply arrived but could not be decoded into the
// caller's reply value: the call ran.
type DecodeError struct {
	ServiceMethod string
	Err           error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("rpcq: %s: decode reply: %v", e.ServiceMethod, e.Err)
}

func (e *DecodeError) Unwrap() error { return e.Err }

// remoteErrorOf reads the error a reply's headers carry.
func remoteErrorOf(h nats.Header) *RemoteError {
	code, err := strconv.Atoi(h.Get(HeaderErrorCode))
	if err != nil {
		code = CodeInternal
	}
	return &RemoteError{Code: code, Message: h.Get(HeaderError)}
}
