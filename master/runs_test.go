package master_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// TestRunsThroughMaster: the owner of a job reads its spec, run events
// and commits through Master.Runs, page after page, however many events
// workers wrote and however long; events of other jobs or kinds and
// garbage are left out, errors are clipped; another caller hears "no
// job", and a hostile cursor gets a refusal or an empty page.
func TestRunsThroughMaster(t *testing.T) {
	c := start(t, 1)
	alice, bob := c.as(t, "alice"), c.as(t, "bob")
	spec := mr.JobSpec{ID: "alices", App: "wordcount", R: 2, Inputs: []mr.Input{pathInput(t, "a b a\n")}}
	if err := alice.Call(c.ctx, "Master.Submit", master.SubmitArgs{Spec: spec}, &master.SubmitReply{}); err != nil {
		t.Fatal(err)
	}
	st := c.wait(t, "alices")

	// What a hostile worker may write: many failures with long errors,
	// an event naming another job, and garbage.
	const forged = 1_000
	long := strings.Repeat("x", 3_000)
	for i := range forged {
		ev, _ := json.Marshal(mr.Event{Kind: mr.EventFailed, Job: "alices", Phase: mr.PhaseMap, Index: 0, Attempt: 100 + i, Worker: "w", Error: long})
		if _, err := c.store.JS.PublishAsync(mr.EventSubject("alices", mr.EventFailed), ev); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := json.Marshal(mr.Event{Kind: mr.EventFailed, Job: "bobs", Phase: mr.PhaseMap})
	for _, data := range [][]byte{other, []byte("{not json")} {
		if _, err := c.store.JS.Publish(c.ctx, mr.EventSubject("alices", mr.EventFailed), data); err != nil {
			t.Fatal(err)
		}
	}
	<-c.store.JS.PublishAsyncComplete()

	var args master.RunsArgs
	args.ID = "alices"
	var spec0 *mr.JobSpec
	var events []master.RunEvent
	var commits []mr.Commit
	pages := 0
	for ; pages < 100; pages++ {
		var page master.RunsPage
		if err := alice.Call(c.ctx, "Master.Runs", args, &page); err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		if pages == 0 {
			spec0 = page.Spec
		} else if page.Spec != nil {
			t.Errorf("page %d has the spec again", pages)
		}
		events, commits = append(events, page.Events...), append(commits, page.Commits...)
		if page.Done {
			break
		}
		args.After, args.NextCommit = page.Next, page.NextCommit
	}
	if spec0 == nil || spec0.R != 2 || len(spec0.Inputs) != 1 {
		t.Errorf("the first page's spec = %+v, want the job's", spec0)
	}
	if pages < 2 {
		t.Errorf("%d events came in %d pages, want several", len(events), pages+1)
	}
	started, failed := 0, 0
	for _, ev := range events {
		switch {
		case ev.Event.Job != "alices":
			t.Errorf("an event of job %q", ev.Event.Job)
		case ev.Event.Kind == mr.EventStarted:
			started++
		case ev.Event.Kind == mr.EventFailed:
			failed++
			if len(ev.Event.Error) > 2048 {
				t.Errorf("an error of %d bytes, want it clipped", len(ev.Event.Error))
			}
		}
		if ev.At == 0 {
			t.Errorf("an event with no time: %+v", ev)
		}
	}
	if tasks := st.Maps + st.Reduces; started < tasks || failed != forged || len(commits) != tasks {
		t.Errorf("%d started, %d failed, %d commits; want at least %d, %d and %d", started, failed, len(commits), tasks, forged, tasks)
	}
	for _, c := range commits {
		if c.Map != nil || len(c.Outputs) > 0 || c.Job != "alices" {
			t.Errorf("a commit with its outputs or of another job: %+v", c)
		}
	}

	refused := func(what string, client *rpcq.Client, args master.RunsArgs, code int, message string) {
		t.Helper()
		wantRefused(t, what, client.Call(c.ctx, "Master.Runs", args, &master.RunsPage{}), code, message)
	}
	refused("bob reading alice's runs", bob, master.RunsArgs{ID: "alices"}, rpcq.CodeUnknownMethod, "no job alices")
	refused("a negative commit cursor", alice, master.RunsArgs{ID: "alices", NextCommit: -1}, rpcq.CodeBadRequest, "negative")
	for _, a := range []master.RunsArgs{{ID: "alices", After: 1<<64 - 1}, {ID: "alices", NextCommit: 1 << 40}} {
		var page master.RunsPage
		if err := alice.Call(c.ctx, "Master.Runs", a, &page); err != nil || len(page.Events) != 0 || !page.Done {
			t.Errorf("Runs(%+v) = %d events, done %v, %v; want an empty last page", a, len(page.Events), page.Done, err)
		}
	}
}
