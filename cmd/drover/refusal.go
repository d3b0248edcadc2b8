package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/internal/cli"
)

// A server that refuses a client a publish or a subscription says so
// asynchronously, and a request it refused would wait out its whole
// timeout. A command's context therefore ends at the first refusal, with
// the refusal as its cause, and the command returns it as its error.

type refusalKey struct{}

// refusable is ctx made to end at a refusal on any connection dial makes
// from it, and the function that turns the command's error into the
// refusal when there was one.
func refusable(ctx context.Context) (context.Context, func(error) error) {
	ctx, refuse := context.WithCancelCause(ctx)
	ctx = context.WithValue(ctx, refusalKey{}, refuse)
	return ctx, func(err error) error {
		var refused *refusedError
		if cause := context.Cause(ctx); err != nil && errors.As(cause, &refused) {
			return refused
		}
		refuse(nil)
		return err
	}
}

// dial connects as conn says, for a command run with a refusable ctx.
func dial(ctx context.Context, conn *cli.NATSFlags, name string) (*nats.Conn, error) {
	nc, err := conn.Connect(name)
	if err != nil {
		return nil, err
	}
	if refuse, ok := ctx.Value(refusalKey{}).(context.CancelCauseFunc); ok {
		nc.SetErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if errors.Is(err, nats.ErrPermissionViolation) {
				refuse(&refusedError{err})
			}
		})
	}
	return nc, nil
}

// refusedError is a permission the server refused: it names the subject.
type refusedError struct{ err error }

func (e *refusedError) Error() string {
	what := strings.TrimPrefix(e.err.Error(), nats.ErrPermissionViolation.Error()+": ")
	return fmt.Sprintf("not allowed: %s (this NATS user's permissions do not grant it)", what)
}

func (e *refusedError) Unwrap() error { return e.err }
