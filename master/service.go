package master

import (
	"context"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// serve starts the Master rpcq service: one method per subject (see
// mr.MasterSubject), so that NATS permissions can grant each to a role.
func (m *Master) serve() (*rpcq.Server, error) {
	srv, err := rpcq.NewServer(m.nc, rpcq.ServerConfig{
		Name:        mr.MasterService,
		Version:     "1.0.0",
		Description: "Drover MapReduce master: Submit, SubmitExec, Status, List, ListPage, Cancel, Delete",
		Modes: map[string]rpcq.Mode{
			mr.MethodSubmit: rpcq.AtMostOnce, mr.MethodSubmitExec: rpcq.AtMostOnce, mr.MethodStatus: rpcq.ReadOnly,
			mr.MethodList: rpcq.ReadOnly, mr.MethodListPage: rpcq.ReadOnly, mr.MethodCancel: rpcq.AtLeastOnce,
			mr.MethodDelete: rpcq.AtMostOnce,
		},
		Logger:  m.log,
		Metrics: m.cfg.Registerer,
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
			return rpcq.HandleFunc(srv, mr.MethodStatus, func(_ context.Context, a JobArgs) (JobStatus, error) {
				st, ok := m.Status(a.ID)
				if !ok {
					return st, rpcq.Errorf(rpcq.CodeUnknownMethod, "no job %s", clip(a.ID, maxNameLen))
				}
				return st, nil
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodList, func(_ context.Context, a ListArgs) ([]JobStatus, error) { return m.List(a) })
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodListPage, func(_ context.Context, a ListArgs) (ListPage, error) { return m.ListPage(a) })
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodCancel, func(_ context.Context, a JobArgs) (struct{}, error) { return struct{}{}, m.Cancel(a.ID) })
		},
		func() error {
			return rpcq.HandleFunc(srv, mr.MethodDelete, func(ctx context.Context, a JobArgs) (DeleteReply, error) { return m.Delete(ctx, a.ID) })
		},
	} {
		if err := add(); err != nil {
			return nil, err
		}
	}
	return srv, srv.Start()
}
