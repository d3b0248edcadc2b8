package master_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// as is a client of c's master that calls as the caller name, closed
// when t ends.
func (c *cluster) as(t *testing.T, name string) *rpcq.Client {
	t.Helper()
	client, err := rpcq.NewClient(c.broker.Connect(), rpcq.ClientConfig{Caller: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	return client
}

// wantRefused checks that err, what a call came to, is the master's
// refusal with code and a message holding message.
func wantRefused(t *testing.T, what string, err error, code int, message string) {
	t.Helper()
	var re *rpcq.RemoteError
	if !errors.As(err, &re) || re.Code != code || !strings.Contains(re.Message, message) {
		t.Errorf("%s = %v, want %d %q", what, err, code, message)
	}
}

// TestCallersSeeTheirOwnJobs: a job submitted as a caller is that
// caller's; another caller neither sees, lists, cancels nor deletes it,
// and hears of it only what it hears of a job that does not exist; a
// call without a caller sees every job with its owner.
func TestCallersSeeTheirOwnJobs(t *testing.T) {
	c := start(t, 1)
	alice, bob := c.as(t, "alice"), c.as(t, "bob")
	submit := func(client *rpcq.Client, id string) {
		t.Helper()
		spec := mr.JobSpec{ID: id, App: "wordcount", R: 1, Inputs: []mr.Input{pathInput(t, "a b a\n")}}
		var reply master.SubmitReply
		if err := client.Call(c.ctx, "Master.Submit", master.SubmitArgs{Spec: spec}, &reply); err != nil {
			t.Fatalf("submit %s: %v", id, err)
		}
	}
	submit(alice, "alices")
	submit(bob, "bobs")
	submit(c.client, "nobodys")
	for _, id := range []string{"alices", "bobs", "nobodys"} {
		c.wait(t, id)
	}

	var st master.JobStatus
	if err := alice.Call(c.ctx, "Master.Status", master.JobArgs{ID: "alices"}, &st); err != nil || st.Owner != "alice" {
		t.Errorf("alice's status of her job = %+v, %v; want owner alice", st.Owner, err)
	}
	unknown := func(what string, err error, id string) {
		t.Helper()
		var re *rpcq.RemoteError
		if !errors.As(err, &re) || re.Code != rpcq.CodeUnknownMethod || re.Message != "no job "+id {
			t.Errorf("%s = %v, want the answer about no job at all: no job %s", what, err, id)
		}
	}
	for _, id := range []string{"bobs", "nobodys", "nosuchjob"} {
		unknown("alice's Status of "+id, alice.Call(c.ctx, "Master.Status", master.JobArgs{ID: id}, &st), id)
		unknown("alice's Cancel of "+id, alice.Call(c.ctx, "Master.Cancel", master.JobArgs{ID: id}, nil), id)
		unknown("alice's Delete of "+id, alice.Call(c.ctx, "Master.Delete", master.JobArgs{ID: id}, nil), id)
	}

	owners := func(client *rpcq.Client, args master.ListArgs) string {
		t.Helper()
		var page master.ListPage
		if err := client.Call(c.ctx, "Master.ListPage", args, &page); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range page.Jobs {
			got = append(got, j.ID+":"+j.Owner)
		}
		return strings.Join(got, " ")
	}
	if got := owners(alice, master.ListArgs{}); got != "alices:alice" {
		t.Errorf("alice lists %q, want her job alone", got)
	}
	if got := owners(alice, master.ListArgs{Owner: "bob"}); got != "alices:alice" {
		t.Errorf("alice listing bob's lists %q, want her own job alone", got)
	}
	if got := owners(c.client, master.ListArgs{Owner: "bob"}); got != "bobs:bob" {
		t.Errorf("a list of bob's jobs is %q", got)
	}
	for _, id := range []string{"alices", "bobs", "nobodys"} {
		if got := owners(c.client, master.ListArgs{}); !strings.Contains(got, id) {
			t.Errorf("a call without a caller lists %q, want %s among them", got, id)
		}
	}
	var jobs []master.JobStatus
	if err := bob.Call(c.ctx, "Master.List", master.ListArgs{}, &jobs); err != nil || len(jobs) != 1 || jobs[0].ID != "bobs" {
		t.Errorf("bob's List = %+v, %v; want his job alone", jobs, err)
	}

	var del master.DeleteReply
	if err := bob.Call(c.ctx, "Master.Delete", master.JobArgs{ID: "bobs"}, &del); err != nil {
		t.Errorf("bob deletes his job: %v", err)
	}
	if err := c.client.Call(c.ctx, "Master.Status", master.JobArgs{ID: "alices"}, &st); err != nil || st.State != master.JobDone {
		t.Errorf("alice's job after bob's calls: %s, %v; want done", st.State, err)
	}
}

// TestCallerNameChecked: a caller token that is no user name is refused
// before anything runs.
func TestCallerNameChecked(t *testing.T) {
	c := start(t, 0)
	if err := c.client.Call(c.ctx, "Master.List", master.ListArgs{}, nil); err != nil {
		t.Fatal(err) // the master serves
	}
	nc := c.broker.Connect()
	long := strings.Repeat("x", rpcq.MaxCallerLen+1)
	reply, err := nc.Request(rpcq.CallerSubject(mr.MasterService, mr.MethodList, long), []byte("{}"), 5e9)
	if err != nil {
		t.Fatal(err)
	}
	if code := reply.Header.Get(rpcq.HeaderErrorCode); code != "400" || !strings.Contains(reply.Header.Get(rpcq.HeaderError), "caller") {
		t.Errorf("a caller of %d letters: %s %q, want 400 naming the caller", len(long), code, reply.Header.Get(rpcq.HeaderError))
	}
}
