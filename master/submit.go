package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// CodeForbidden is the rpcq error code of a call the caller's method does
// not allow: a job whose app runs commands, sent to Submit rather than
// SubmitExec.
const CodeForbidden = 403

// ErrForbidden matches any error with CodeForbidden, for errors.Is.
var ErrForbidden = &rpcq.RemoteError{Code: CodeForbidden}

// Submit validates, stores and starts a job, and returns its ID. A spec
// outside the limits of package mr, or otherwise invalid, is refused with
// rpcq.CodeBadRequest and one line naming the field and its bound, before
// anything is stored. A job whose app runs commands (mr.RunsCommands) is
// refused with CodeForbidden: it needs SubmitExec. A call that names its
// caller (rpcq.CallerFrom) makes the caller the job's owner.
func (m *Master) Submit(ctx context.Context, spec mr.JobSpec) (string, error) {
	return m.submit(ctx, spec, false)
}

// SubmitExec is Submit for jobs whose apps run commands, such as
// streaming, as well as any other. It is a method of its own, on the
// subject mr.MasterSubject(mr.MethodSubmitExec), so that NATS permissions
// can grant it to the exec-submitter role alone.
func (m *Master) SubmitExec(ctx context.Context, spec mr.JobSpec) (string, error) {
	return m.submit(ctx, spec, true)
}

// submit is Submit, and with exec SubmitExec.
func (m *Master) submit(ctx context.Context, spec mr.JobSpec, exec bool) (string, error) {
	if err := spec.Validate(m.cfg.Apps); err != nil {
		return "", rpcq.Errorf(rpcq.CodeBadRequest, "%v", err)
	}
	if !exec && spec.RunsCommands(m.cfg.Apps) {
		return "", rpcq.Errorf(CodeForbidden, "%s jobs run commands: submit them with the exec role (%s.%s)",
			spec.App, mr.MasterService, mr.MethodSubmitExec)
	}
	if spec.ID == "" {
		spec.ID = newJobID(time.Now())
	}
	if m.known(spec.ID) {
		return "", rpcq.Errorf(rpcq.CodeBadRequest, "job %s exists", spec.ID)
	}
	splits := spec.MapSplits()
	m.mu.Lock()
	why := m.holdLocked(spec)
	m.mu.Unlock()
	owner, _ := rpcq.CallerFrom(ctx)
	rec := jobRecord{Spec: spec, Owner: owner, State: JobMapping, Submitted: m.cfg.Clock().UnixNano()}
	if why != "" {
		// Stored as waiting, so that a master that starts from the
		// record holds it too, rather than publish its tasks.
		rec.State = JobWaiting
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return "", rpcq.Errorf(rpcq.CodeBadRequest, "job spec: %v", err)
	}
	if _, err := m.store.Jobs.Create(ctx, spec.ID, data); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return "", rpcq.Errorf(rpcq.CodeBadRequest, "job %s exists", spec.ID)
		}
		return "", fmt.Errorf("store job: %w", err)
	}
	if why != "" {
		m.hold(rec, splits, why)
		return spec.ID, nil
	}
	reused, unpin := m.reuse(ctx, spec, splits)
	defer unpin()
	if err := m.admit(rec, splits, reused); err != nil {
		return "", err
	}
	m.cfg.Metrics.Reused(len(reused))
	return spec.ID, nil
}
