package master

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/drover-dev/drover/mr"
)

// JobWaiting is the state of a job the master holds, published to no
// worker, because no live worker can run it (see Config.HoldJobs):
// JobStatus.Waiting says what for.
const JobWaiting JobState = "waiting"

// waitingFor says what a job of app, which runs commands if exec, waits
// for among workers: "" if one of them can run it.
func waitingFor(workers []mr.WorkerInfo, app string, exec bool) string {
	hasApp := false
	for _, w := range workers {
		if w.CanRun(app, exec) {
			return ""
		}
		hasApp = hasApp || w.CanRun(app, false)
	}
	switch {
	case len(workers) == 0:
		return fmt.Sprintf("waiting for a worker that can run app %s: no worker is live", app)
	case exec && hasApp:
		return fmt.Sprintf("waiting for a worker started with --allow-exec: app %s runs commands, and no live worker runs them", app)
	}
	return fmt.Sprintf("waiting for a worker that can run app %s: no live worker has it", app)
}

// holdLocked reports why a new job must wait for a worker, or "" if it
// need not: holding is off, the registry is not known yet, or a live
// worker can run it.
func (m *Master) holdLocked(spec mr.JobSpec) string {
	if !m.cfg.HoldJobs {
		return ""
	}
	workers, ok := m.workers.live(time.Now())
	if !ok {
		return ""
	}
	return waitingFor(workers, spec.App, spec.RunsCommands(m.cfg.Apps))
}

// hold enters a stored job into the master's view, waiting for a worker
// that can run it: the core does not see it until release.
func (m *Master) hold(rec jobRecord, splits []mr.MapSplit, why string) {
	m.mu.Lock()
	v := &jobView{rec: rec, splits: splits, commits: map[TaskID]mr.Commit{}, waiting: why}
	m.jobs[rec.Spec.ID] = v
	m.held[rec.Spec.ID] = v
	m.mu.Unlock()
	m.log.Info("master: job held", "job", rec.Spec.ID, "why", why)
}

// release admits each held job that a live worker can now run, and
// brings up to date why the others wait. It runs on the master's tick;
// until the master has read the worker registry, it releases nothing.
func (m *Master) release(ctx context.Context) {
	var ready []*jobView
	m.mu.Lock()
	if _, known := m.workers.live(time.Now()); m.cfg.HoldJobs && !known {
		m.mu.Unlock()
		return
	}
	for id, v := range m.held {
		if why := m.holdLocked(v.rec.Spec); why != "" {
			v.waiting = why
			continue
		}
		v.waiting = ""
		v.rec.State = JobMapping
		delete(m.held, id)
		ready = append(ready, v)
	}
	m.mu.Unlock()
	for _, v := range ready {
		// The record says mapping before any task is published: a master
		// that starts from it admits the job, whether this one got to or
		// not; one that started from it as waiting would hold it.
		if err := m.storeRecord(ctx, v.rec); err != nil {
			m.log.Warn("master: held job not released: its record was not stored", "job", v.rec.Spec.ID, "error", err)
			m.mu.Lock()
			v.rec.State, v.waiting, m.held[v.rec.Spec.ID] = JobWaiting, "waiting to store its record", v
			m.mu.Unlock()
			continue
		}
		reused, unpin := m.reuse(ctx, v.rec.Spec, v.splits)
		if err := m.admit(v.rec, v.splits, reused); err != nil {
			m.log.Error("master: held job not admitted", "job", v.rec.Spec.ID, "error", err)
		} else {
			m.cfg.Metrics.Reused(len(reused))
		}
		unpin()
		m.log.Info("master: held job released", "job", v.rec.Spec.ID)
	}
}

// cancelHeld ends a held job as cancelled; ok is false if the job is not
// held.
func (m *Master) cancelHeld(ctx context.Context, id string) (ok bool, err error) {
	m.mu.Lock()
	v := m.jobs[id]
	if v == nil || v.waiting == "" {
		m.mu.Unlock()
		return false, nil
	}
	v.waiting = ""
	delete(m.held, id)
	v.rec.State, v.rec.Error, v.rec.Ended = JobCancelled, "cancelled", m.cfg.Clock().UnixNano()
	rec := v.rec
	m.mu.Unlock()
	return true, m.storeRecord(ctx, rec)
}

// storeRecord puts a job's record in the jobs bucket.
func (m *Master) storeRecord(ctx context.Context, rec jobRecord) error {
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	_, err = m.store.Jobs.Put(ctx, rec.Spec.ID, data)
	return err
}
