package master

import (
	"cmp"
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
)

// How the shell finds attempts whose message has left the work queue
// (see Requeue). Every queueCheckEvery it counts the queue's messages; if
// they are fewer than the attempts that should be queued, it lists the
// task subjects of each job that has such attempts. An attempt missing
// from two lists in a row, queueCheckEvery apart at least, and without a
// commit record, is requeued: a failure that removed its message has
// reached the core by then, as a rule, and a worker still running it has
// found its message gone at a heartbeat and stopped.
//
// Counting first keeps the common case to one small request. Its sharp
// edge: a message the core does not count (a backup's original, an old
// attempt a stuck worker still holds) can hide a lost one until it
// leaves the queue.
const (
	queueCheckEvery   = 2 * time.Second
	queueCheckTimeout = 5 * time.Second
)

// checkQueue requeues lost attempts every queueCheckEvery until ctx ends.
func (m *Master) checkQueue(ctx context.Context) {
	tick := time.NewTicker(queueCheckEvery)
	defer tick.Stop()
	var missing map[Attempt]bool // at the last check
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		now, err := m.missingAttempts(ctx)
		if err != nil {
			// A queue that cannot be read tells nothing: the next
			// check starts afresh.
			missing = nil
			continue
		}
		for _, a := range slices.SortedFunc(maps.Keys(now), compareAttempts) {
			if missing[a] && !m.hasCommit(ctx, a.Task) {
				m.log.Warn("master: task attempt gone from the queue; publishing another", "task", a.Task.String(), "attempt", a.Attempt)
				m.handle(Requeue(a))
			}
		}
		missing = now
	}
}

func compareAttempts(a, b Attempt) int {
	return cmp.Or(cmp.Compare(a.Task.Job, b.Task.Job), cmp.Compare(a.Task.Phase, b.Task.Phase),
		cmp.Compare(a.Task.Index, b.Task.Index), cmp.Compare(a.Attempt, b.Attempt))
}

// missingAttempts returns the attempts that should be queued and whose
// task has no message in the queue. The actions decided before it was
// called are carried out before the queue is read: a publication still
// on its way is not missing.
func (m *Master) missingAttempts(ctx context.Context) (map[Attempt]bool, error) {
	m.mu.Lock()
	queued := m.core.Queued()
	// Every batch of actions decided so far has taken exec (decide takes
	// it before it lets mu go): once exec is ours, they are carried out.
	// It is let go at once, not held over the reads below, which may
	// wait long for a cluster electing leaders.
	m.exec.Lock()
	m.mu.Unlock()
	m.exec.Unlock()
	if len(queued) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, queueCheckTimeout)
	defer cancel()
	info, err := m.store.Tasks.Info(ctx)
	if err != nil {
		return nil, err
	}
	if info.State.Msgs >= uint64(len(queued)) {
		return nil, nil
	}
	byJob := map[string][]Attempt{}
	for _, a := range queued {
		byJob[a.Task.Job] = append(byJob[a.Task.Job], a)
	}
	missing := map[Attempt]bool{}
	for _, job := range slices.Sorted(maps.Keys(byJob)) {
		info, err := m.store.Tasks.Info(ctx, jetstream.WithSubjectFilter(mr.JobTaskSubjects(job)))
		if err != nil {
			return nil, err
		}
		for _, a := range byJob[job] {
			t := a.Task
			if info.State.Subjects[mr.TaskSubject(t.Job, t.Phase, t.Index)] == 0 &&
				info.State.Subjects[mr.ExecTaskSubject(t.Job, t.Phase, t.Index)] == 0 {
				missing[a] = true
			}
		}
	}
	return missing, nil
}

// hasCommit reports whether the task has a commit record, or may have:
// only a record found absent says no.
func (m *Master) hasCommit(ctx context.Context, id TaskID) bool {
	ctx, cancel := context.WithTimeout(ctx, queueCheckTimeout)
	defer cancel()
	_, err := m.store.Commits.Get(ctx, mr.CommitKey(id.Job, id.Phase, id.Index))
	return !errors.Is(err, jetstream.ErrKeyNotFound)
}
