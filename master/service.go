package master

import (
	"context"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// serve starts the Master rpcq service: one method per subject (see
// mr.MasterSubject), so that NATS permissions can grant each to a role,
// each also served as its callers (see owner.go).
func (m *Master) serve() (*rpcq.Server, error) {
	srv, err := rpcq.NewServer(m.nc, rpcq.ServerConfig{
		Name:        mr.MasterService,
		Version:     "1.0.0",
		Description: "Drover MapReduce master: Submit, SubmitExec, Status, List, ListPage, Cancel, Delete, Output, Runs",
		Modes: map[string]rpcq.Mode{
			mr.MethodSubmit: rpcq.AtMostOnce, mr.MethodSubmitExec: rpcq.AtMostOnce, mr.MethodStatus: rpcq.ReadOnly,
			mr.MethodList: rpcq.ReadOnly, mr.MethodListPage: rpcq.ReadOnly, mr.MethodCancel: rpcq.AtLeastOnce,
			mr.MethodDelete: rpcq.AtMostOnce, mr.MethodOutput: rpcq.ReadOnly, mr.MethodRuns: rpcq.ReadOnly,
		},
		Logger:  m.log,
		Metrics: m.cfg.Registerer,
		Callers: true,
	})
	if err != nil {
		return nil, err
	}
	for _, add := range []func() error{
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodSubmit, func(ctx context.Context, a SubmitArgs) (SubmitReply, error) {
				id, err := m.Submit(ctx, a.Spec)
				return SubmitReply{ID: id}, err
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodSubmitExec, func(ctx context.Context, a SubmitArgs) (SubmitReply, error) {
				id, err := m.SubmitExec(ctx, a.Spec)
				return SubmitReply{ID: id}, err
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodStatus, func(ctx context.Context, a JobArgs) (JobStatus, error) {
				st, ok := m.Status(a.ID)
				if !ok || !m.sees(callerOf(ctx), a.ID) {
					return JobStatus{}, noJob(a.ID)
				}
				return st, nil
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodList, func(ctx context.Context, a ListArgs) ([]JobStatus, error) {
				return m.List(ownJobs(ctx, a))
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodListPage, func(ctx context.Context, a ListArgs) (ListPage, error) {
				return m.ListPage(ownJobs(ctx, a))
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodCancel, func(ctx context.Context, a JobArgs) (struct{}, error) {
				if !m.sees(callerOf(ctx), a.ID) {
					return struct{}{}, noJob(a.ID)
				}
				return struct{}{}, m.Cancel(a.ID)
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodDelete, func(ctx context.Context, a JobArgs) (DeleteReply, error) {
				if !m.sees(callerOf(ctx), a.ID) {
					return DeleteReply{}, noJob(a.ID)
				}
				return m.Delete(ctx, a.ID)
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodOutput, func(ctx context.Context, a OutputArgs) (OutputPiece, error) {
				return m.Output(ctx, callerOf(ctx), a.ID, a.Partition, a.After)
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodRuns, func(ctx context.Context, a RunsArgs) (RunsPage, error) {
				return m.Runs(ctx, callerOf(ctx), a)
			})
		},
	} {
		if err := add(); err != nil {
			return nil, err
		}
	}
	return srv, srv.Start()
}

// ownJobs are a's for a call from ctx: a caller lists its own jobs alone.
func ownJobs(ctx context.Context, a ListArgs) ListArgs {
	if caller := callerOf(ctx); caller != "" {
		a.Owner = caller
	}
	return a
}
