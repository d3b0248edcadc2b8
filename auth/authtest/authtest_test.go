package authtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/auth"
	"github.com/drover-dev/drover/auth/authtest"
	"github.com/drover-dev/drover/mr"
)

// TestRolesConnect: every role connects; the master opens the
// deployment, a worker binds to it without a refusal, and a reader's
// publish of a task is refused.
func TestRolesConnect(t *testing.T) {
	s := authtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := mr.Open(ctx, s.Connect(auth.Master), mr.StoreConfig{Role: mr.RoleMaster}); err != nil {
		t.Fatalf("mr.Open as master: %v", err)
	}
	if _, err := mr.Bind(ctx, s.Connect(auth.Worker)); err != nil {
		t.Fatalf("mr.Bind as worker: %v", err)
	}
	refused := make(chan error, 1)
	nc := s.Connect(auth.Reader, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case refused <- err:
		default:
		}
	}))
	nc.Publish(mr.TaskSubject("j", mr.PhaseMap, 0), []byte("x"))
	nc.Flush()
	select {
	case err := <-refused:
		if !errors.Is(err, nats.ErrPermissionViolation) {
			t.Errorf("reader's task publish: %v, want a permission violation", err)
		}
	case <-ctx.Done():
		t.Error("reader's task publish was not refused")
	}
}
