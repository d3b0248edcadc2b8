package worker

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/metrics"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
)

// lateCommits is a commit bucket whose creates go through but answer a
// time-out, as one does when its answer is lost in a leader election.
type lateCommits struct{ jetstream.KeyValue }

func (l lateCommits) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if _, err := l.KeyValue.Create(ctx, key, value, opts...); err != nil {
		return 0, err
	}
	return 0, context.DeadlineExceeded
}

// acks records what a worker answers a task message.
type acks struct {
	jetstream.Msg
	acked, naked bool
}

func (a *acks) Ack() error { a.acked = true; return nil }
func (a *acks) Nak() error { a.naked = true; return nil }

// TestCommitAnsweredLate: a commit that went through but answered an
// error stands: the attempt is acknowledged as committed and its output
// is kept, not removed under the record that names it.
func TestCommitAnsweredLate(t *testing.T) {
	ctx, _, store := mrtest.Start(t, 3*time.Second)
	late := *store
	late.Commits = lateCommits{store.Commits}
	w, err := New(&late, Config{Apps: mrtest.Registry(), ID: "w"})
	if err != nil {
		t.Fatal(err)
	}
	const object = "jobs/j/reduce/0/1-x/part"
	if _, err := store.Data.PutString(ctx, object, "an output"); err != nil {
		t.Fatal(err)
	}
	task := mr.Task{Job: "j", Phase: mr.PhaseReduce, Index: 0, Attempt: 1}
	commit := mr.Commit{Job: "j", Phase: mr.PhaseReduce, Index: 0, Attempt: 1, Worker: "w", Outputs: []string{object}, At: time.Now().UnixNano()}
	msg := &acks{}
	key := mr.CommitKey("j", mr.PhaseReduce, 0)
	if got := w.commit(task, key, commit, msg); got != metrics.OutcomeCommitted || !msg.acked || msg.naked {
		t.Errorf("commit = %s, acked %v, handed back %v; want committed and acknowledged", got, msg.acked, msg.naked)
	}
	if _, err := store.Data.GetInfo(ctx, object); err != nil {
		t.Errorf("the committed output is gone: %v", err)
	}
}
