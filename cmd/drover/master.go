package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// findMasterWait is how long a command looks for a master before it says
// none is running: long enough for a master that is starting, short
// enough that a user is not left waiting for a retry loop.
const findMasterWait = 2 * time.Second

// masterClient calls the master's control API, speaking to the user in
// the master's words: no master running is said as such, and a refusal
// ("no job X") comes without the RPC code around it.
type masterClient struct {
	nc     *nats.Conn
	client *rpcq.Client
	found  bool
}

func (m *masterClient) call(ctx context.Context, method string, args, reply any, opts ...rpcq.CallOption) error {
	if err := m.ready(ctx); err != nil {
		return err
	}
	err := m.client.Call(ctx, mr.MasterService+"."+method, args, reply, opts...)
	var remote *rpcq.RemoteError
	if errors.As(err, &remote) && remote.Message != "" && refusal(remote.Code) {
		return &masterRefusal{remote.Message}
	}
	return err
}

// masterRefusal is the master's answer that it will not do what was
// asked, in its words ("no job X"): asking again gets the same answer.
type masterRefusal struct{ message string }

func (e *masterRefusal) Error() string { return e.message }

// ready waits up to findMasterWait for a master to answer micro's ping,
// the first time it is called.
func (m *masterClient) ready(ctx context.Context) error {
	if m.found {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, findMasterWait)
	defer cancel()
	err := waitService(ctx, m.nc, mr.MasterService)
	if errors.Is(err, errNoService) {
		return fmt.Errorf("no master is running (%v)", err)
	}
	m.found = err == nil
	return err
}

// refusal reports whether code is the master refusing what was asked,
// with a message meant for the user.
func refusal(code int) bool {
	return code == rpcq.CodeBadRequest || code == master.CodeForbidden || code == rpcq.CodeUnknownMethod
}

// submit submits spec, on the method its app needs: a job whose app runs
// commands goes to SubmitExec, which NATS grants to the exec role alone.
func (m *masterClient) submit(ctx context.Context, spec mr.JobSpec) (string, error) {
	method := mr.MethodSubmit
	if app, err := builtinApps(true).New(spec.App, spec.Args); err == nil && mr.RunsCommands(app) {
		method = mr.MethodSubmitExec
	}
	var reply master.SubmitReply
	err := m.call(ctx, method, master.SubmitArgs{Spec: spec}, &reply, rpcq.WithMode(rpcq.AtMostOnce))
	return reply.ID, err
}

func (m *masterClient) status(ctx context.Context, id string) (master.JobStatus, error) {
	var st master.JobStatus
	err := m.call(ctx, mr.MethodStatus, master.JobArgs{ID: id}, &st)
	return st, err
}
