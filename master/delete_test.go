package master_test

import (
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/rpcq"
	"github.com/drover-dev/drover/worker"
)

// TestDelete: a running job is refused; once it has ended, its outputs,
// commits, events, progress and record go, and the master no longer knows
// it. Another job is untouched.
func TestDelete(t *testing.T) {
	paths, inputs := mrtest.Books(t)
	c := start(t, 0)
	spec := mr.JobSpec{App: "wordcount", R: 2, SplitSize: 256 << 10}
	for i, p := range paths[:3] {
		spec.Inputs = append(spec.Inputs, mr.Input{Name: inputs[i].Name, Path: p, Size: int64(len(inputs[i].Data))})
	}
	spec.ID = "gone"
	gone := c.submit(t, spec)
	deleteJob := func(id string) error {
		return c.client.Call(c.ctx, "Master.Delete", master.JobArgs{ID: id}, &master.DeleteReply{})
	}
	if err := deleteJob(gone); !errors.Is(err, rpcq.ErrBadRequest) {
		t.Fatalf("Delete of a job still mapping = %v, want a refusal (400)", err)
	}
	c.addWorker(t, worker.Config{ID: "w"})
	if st := c.wait(t, gone); st.State != master.JobDone {
		t.Fatalf("job ended %s: %s", st.State, st.Error)
	}
	spec.ID = "kept"
	kept := c.submit(t, spec)
	keptStatus := c.wait(t, kept)

	var reply master.DeleteReply
	if err := c.client.Call(c.ctx, "Master.Delete", master.JobArgs{ID: gone}, &reply); err != nil {
		t.Fatalf("Delete of an ended job: %v", err)
	}
	if reply.Objects == 0 {
		t.Errorf("Delete removed %d objects, want the job's outputs", reply.Objects)
	}
	var st master.JobStatus
	if err := c.client.Call(c.ctx, "Master.Status", master.JobArgs{ID: gone}, &st); !errors.Is(err, rpcq.ErrUnknownMethod) {
		t.Errorf("Status of the deleted job = %v, want no job (404)", err)
	}
	if err := deleteJob(gone); !errors.Is(err, rpcq.ErrUnknownMethod) {
		t.Errorf("Delete again = %v, want no job (404)", err)
	}
	if _, err := c.store.Jobs.Get(c.ctx, gone); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("job record after Delete: %v, want none", err)
	}
	for _, s := range []struct {
		stream  jetstream.Stream
		subject string
	}{
		{c.store.Events, mr.JobEventSubjects(gone)},
		{c.store.Progress, mr.JobProgressSubjects(gone)},
		{streamOf(t, c, mr.BucketStream(mr.BucketCommits)), mr.BucketKey(mr.BucketCommits, mr.JobCommitKeys(gone))},
		{streamOf(t, c, mr.BucketStream(mr.BucketJobs)), mr.BucketKey(mr.BucketJobs, gone)},
	} {
		info, err := s.stream.Info(c.ctx, jetstream.WithSubjectFilter(s.subject))
		if err != nil {
			t.Fatal(err)
		}
		if len(info.State.Subjects) != 0 {
			t.Errorf("%s keeps %d subjects of %s after Delete, want none", info.Config.Name, len(info.State.Subjects), s.subject)
		}
	}
	objects, err := c.store.Data.List(c.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objects {
		if job, ok := mr.ObjectJob(o.Name); ok && job == gone {
			t.Errorf("object %s of the deleted job is left", o.Name)
		}
	}
	// The other job keeps its outputs, and a restarted master its record.
	for _, name := range keptStatus.Outputs {
		if _, err := c.store.Data.GetInfo(c.ctx, name); err != nil {
			t.Errorf("output %s of job %s: %v", name, kept, err)
		}
	}
	if _, err := c.store.Jobs.Get(c.ctx, kept); err != nil {
		t.Errorf("record of job %s: %v", kept, err)
	}
}

func streamOf(t *testing.T, c *cluster, name string) jetstream.Stream {
	t.Helper()
	s, err := c.store.JS.Stream(c.ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
