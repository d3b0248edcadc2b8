package master

import (
	"context"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// serve starts the Master rpcq service.
func (m *Master) serve() (*rpcq.Server, error) {
	srv, err := rpcq.NewServer(m.nc, rpcq.ServerConfig{
		Name:        mr.MasterService,
		Version:     "1.0.0",
		Description: "Drover MapReduce master: Submit, Status, List, Cancel",
		Modes: map[string]rpcq.Mode{
			"Submit": rpcq.AtMostOnce, "Status": rpcq.ReadOnly, "List": rpcq.ReadOnly, "Cancel": rpcq.AtLeastOnce,
		},
		Logger: m.log,
	})
	if err != nil {
		return nil, err
	}
	for _, add := range []func() error{
		func() error {
			return rpcq.HandleFunc(srv, "Submit", func(ctx context.Context, a SubmitArgs) (SubmitReply, error) {
				id, err := m.Submit(ctx, a.Spec)
				return SubmitReply{ID: id}, err
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, "Status", func(_ context.Context, a JobArgs) (JobStatus, error) {
				st, ok := m.Status(a.ID)
				if !ok {
					return st, rpcq.Errorf(rpcq.CodeUnknownMethod, "no job %s", a.ID)
				}
				return st, nil
			})
		},
		func() error {
			return rpcq.HandleFunc(srv, "List", func(context.Context, struct{}) ([]JobStatus, error) { return m.List(), nil })
		},
		func() error {
			return rpcq.HandleFunc(srv, "Cancel", func(_ context.Context, a JobArgs) (struct{}, error) { return struct{}{}, m.Cancel(a.ID) })
		},
	} {
		if err := add(); err != nil {
			return nil, err
		}
	}
	return srv, srv.Start()
}
