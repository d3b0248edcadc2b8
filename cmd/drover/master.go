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

// takeoverWait is how much longer a command looks for a master when a
// standby answers (mr.MasterStandbyService): the leader has gone, and the
// standby takes over once the leader's lease has run out (a TTL and a
// quarter, 5 s and 1.25 s by default) and its master has started.
const takeoverWait = 30 * time.Second

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
// the first time it is called, and up to takeoverWait more while a
// standby is taking over.
func (m *masterClient) ready(ctx context.Context) error {
	if m.found {
		return nil
	}
	err := m.await(ctx, mr.MasterService, findMasterWait)
	if errors.Is(err, errNoService) && m.await(ctx, mr.MasterStandbyService, time.Second) == nil {
		err = m.await(ctx, mr.MasterService, takeoverWait)
	}
	if errors.Is(err, errNoService) {
		return fmt.Errorf("no master is running (%v)", err)
	}
	m.found = err == nil
	return err
}

// await waits up to d for service name (the master, or a master standing
// by) to answer micro's ping.
func (m *masterClient) await(ctx context.Context, name string, d time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return waitService(ctx, m.nc, name)
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
