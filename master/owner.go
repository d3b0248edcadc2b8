package master

import (
	"context"

	"github.com/drover-dev/drover/rpcq"
)

// A call to the master that names its caller (rpcq.CallerSubject) comes
// from a user who sees and touches its own jobs alone: NATS lets that
// user send its own name and no other (auth.Role.OwnJobsOnly). To such a
// caller another's job does not exist: it is answered as an unknown one,
// so that not even its ID is confirmed. A call without a caller, which
// permissions grant to readers and operators, sees every job.

// callerOf is the caller ctx's call came from, or "" for none.
func callerOf(ctx context.Context) string {
	caller, _ := rpcq.CallerFrom(ctx)
	return caller
}

// sees reports whether the job id exists and caller may see it.
func (m *Master) sees(caller, id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return seesLocked(caller, m.jobs[id])
}

// seesLocked reports whether caller may see the job v, nil for none.
func seesLocked(caller string, v *jobView) bool {
	return v != nil && (caller == "" || v.rec.Owner == caller)
}

// noJob is the answer about a job the caller cannot see.
func noJob(id string) error {
	return rpcq.Errorf(rpcq.CodeUnknownMethod, "no job %s", clip(id, maxNameLen))
}
