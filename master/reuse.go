package master

import (
	"context"
	"encoding/json"

	"github.com/drover-dev/drover/mr"
)

// reuse commits each map task of a new job whose lineage matches an
// intact map output an earlier job committed, with that output: those
// tasks never run. It returns the commits it made, whose objects stay
// pinned against collection until unpin (by their MapOutputs prefix). Anything it cannot read or
// claim is simply run.
func (m *Master) reuse(ctx context.Context, spec mr.JobSpec, splits []mr.MapSplit) (commits []mr.Commit, unpin func()) {
	var pinned []string
	unpin = func() { m.unpin(pinned) }
	if spec.NoReuse {
		return nil, unpin
	}
	app, err := m.cfg.Apps.New(spec.App, spec.Args)
	if err != nil {
		return nil, unpin
	}
	for n, s := range splits {
		l, ok := mr.MapLineage(&spec.Inputs[s.Input], s.Split, app, spec.Args, spec.R)
		if !ok {
			continue
		}
		c, prefix, ok := m.adoptOutput(ctx, spec.ID, n, spec.R, l.Key())
		if prefix != "" {
			pinned = append(pinned, prefix)
		}
		if ok {
			commits = append(commits, c)
		}
	}
	return commits, unpin
}

// adoptOutput commits map task n of job, of r partitions, with the
// output under lineage key, if there is one and every object of it is
// there; it returns the prefix of the objects it pinned. A corrupt object
// is found later by the reduce that reads it, and then the map runs as if
// its own output were lost.
func (m *Master) adoptOutput(ctx context.Context, job string, n, r int, key string) (mr.Commit, string, bool) {
	entry, err := m.store.Lineage.Get(ctx, key)
	if err != nil {
		return mr.Commit{}, "", false
	}
	var e mr.LineageEntry
	if json.Unmarshal(entry.Value(), &e) != nil || e.Outputs.Validate(r) != nil {
		return mr.Commit{}, "", false
	}
	// Pinned, then renewed by compare-and-set: a collection that judged
	// the entry stale before the pin removes it only at the revision it
	// saw, so either its delete or this renewal fails, and an output is
	// never both adopted and collected.
	prefix := e.Outputs.Prefix
	m.pin(prefix)
	now := m.cfg.Clock().UnixNano()
	e.Used = now
	renewed, _ := json.Marshal(e)
	if _, err := m.store.Lineage.Update(ctx, key, renewed, entry.Revision()); err != nil {
		return mr.Commit{}, prefix, false
	}
	for _, name := range e.Outputs.Objects() {
		if _, err := m.store.Data.GetInfo(ctx, name); err != nil {
			return mr.Commit{}, prefix, false
		}
	}
	c := mr.Commit{Job: job, Phase: mr.PhaseMap, Index: n, Map: &e.Outputs, Counters: e.Counters, At: now,
		Lineage: key, Reused: e.Job}
	data, _ := json.Marshal(c)
	if _, err := m.store.Commits.Create(ctx, mr.CommitKey(job, mr.PhaseMap, n), data); err != nil {
		return mr.Commit{}, prefix, false
	}
	return c, prefix, true
}
