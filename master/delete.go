package master

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// DeleteReply counts what Delete removed.
type DeleteReply struct {
	Objects int `json:"objects"` // map and reduce outputs
}

// Delete removes an ended job: its map and reduce outputs, its commit
// records, events and progress, and last its record, so that a delete
// cut short leaves the job listed, and deleting it again finishes the
// work. A map output that a running job adopted stays, for the
// collection. Inputs, shared by content with other jobs, stay. A job
// that has not ended is refused with rpcq.CodeBadRequest: cancel it
// first.
func (m *Master) Delete(ctx context.Context, id string) (DeleteReply, error) {
	var del DeleteReply
	m.mu.Lock()
	v := m.jobs[id]
	var state JobState
	if v != nil {
		state, _ = m.stateLocked(id, v)
	}
	live, _ := m.referencesLocked()
	m.mu.Unlock()
	switch {
	case v == nil:
		return del, noJob(id)
	case !state.Ended():
		return del, rpcq.Errorf(rpcq.CodeBadRequest, "job %s is %s: cancel it first", id, state)
	}

	objects, err := m.store.Data.List(ctx)
	if err != nil && !errors.Is(err, jetstream.ErrNoObjectsFound) {
		return del, fmt.Errorf("list objects: %w", err)
	}
	for _, o := range objects {
		if job, ok := mr.ObjectJob(o.Name); !ok || job != id {
			continue
		}
		if prefix, ok := mr.MapOutputPrefixOf(o.Name); ok && live[prefix] {
			continue // a running job adopted it
		}
		if err := m.store.Data.Delete(ctx, o.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return del, fmt.Errorf("remove %s: %w", o.Name, err)
		}
		del.Objects++
	}
	// Purged from the streams, not deleted key by key: nothing of the
	// job is left behind, not even delete markers.
	for _, p := range []struct {
		stream  string
		subject string
	}{
		{mr.StreamTasks, mr.JobTaskSubjects(id)},
		{mr.StreamEvents, mr.JobEventSubjects(id)},
		{mr.StreamProgress, mr.JobProgressSubjects(id)},
		{mr.BucketStream(mr.BucketCommits), mr.BucketKey(mr.BucketCommits, mr.JobCommitKeys(id))},
		{mr.BucketStream(mr.BucketJobs), mr.BucketKey(mr.BucketJobs, quarantinePrefix+id)},
		{mr.BucketStream(mr.BucketJobs), mr.BucketKey(mr.BucketJobs, id)},
	} {
		stream, err := m.store.JS.Stream(ctx, p.stream)
		if err == nil {
			err = stream.Purge(ctx, jetstream.WithPurgeSubject(p.subject))
		}
		if err != nil {
			return del, fmt.Errorf("purge %s of %s: %w", p.subject, p.stream, err)
		}
	}
	m.mu.Lock()
	delete(m.jobs, id)
	m.mu.Unlock()
	m.handle(Deleted{Job: id})
	m.log.Info("master: job deleted", "job", id, "objects", del.Objects)
	return del, nil
}
