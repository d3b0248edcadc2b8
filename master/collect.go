package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
)

// DefaultRetention is how long a map output that no job uses is kept for
// later jobs to reuse.
const DefaultRetention = 24 * time.Hour

// Collected counts what a collection removed.
type Collected struct {
	Entries int // lineage entries unused for the retention period
	Objects int // map output objects of ended jobs that nothing references
}

// Collect removes the map outputs nobody needs. First the lineage entries
// that no job has used for the retention period and whose outputs no
// running job reads; then every map output object of an ended job that no
// remaining entry and no running job references: those of the entries
// removed, outputs a later commit replaced in the index, and the
// leftovers of attempts that lost or died. Objects of running jobs are
// never touched, nor final outputs, nor inputs.
func (m *Master) Collect(ctx context.Context) (Collected, error) {
	var col Collected
	if !m.caughtUp.Load() {
		return col, nil // the commits of running jobs are not all known yet
	}
	entries, err := m.lineageEntries(ctx)
	if err != nil {
		return col, err
	}
	m.mu.Lock()
	live, ended := m.referencesLocked()
	m.mu.Unlock()

	referenced := func(e lineageEntry) bool { return live[e.Outputs.Prefix] }
	stale := m.cfg.Clock().Add(-m.cfg.Retention).UnixNano()
	for _, e := range entries {
		if e.Used < stale && !referenced(e) {
			// At the revision judged stale only: a job that adopted the
			// output meanwhile renewed it, and then this delete fails.
			err := m.store.Lineage.Delete(ctx, e.key, jetstream.LastRevision(e.revision))
			if err == nil {
				col.Entries++
				continue
			}
		}
		live[e.Outputs.Prefix] = true
	}

	objects, err := m.store.Data.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return col, nil
	}
	if err != nil {
		return col, fmt.Errorf("list objects: %w", err)
	}
	for _, o := range objects {
		job, _ := mr.MapOutputJob(o.Name)
		prefix, ok := mr.MapOutputPrefixOf(o.Name)
		if !ok || !ended[job] || live[prefix] {
			continue
		}
		if err := m.store.Data.Delete(ctx, o.Name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
			return col, fmt.Errorf("remove %s: %w", o.Name, err)
		}
		col.Objects++
	}
	return col, nil
}

// pin keeps map outputs from the collection while a job adopts them,
// until its commits are in the master's view; prefixes are MapOutputs
// prefixes.
func (m *Master) pin(prefixes ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range prefixes {
		m.pinned[p]++
	}
}

func (m *Master) unpin(prefixes []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, p := range prefixes {
		if m.pinned[p]--; m.pinned[p] <= 0 {
			delete(m.pinned, p)
		}
	}
}

// collectEvery runs Collect every tenth of the retention period (at most
// hourly) until ctx ends or stop is called.
func (m *Master) collectEvery(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(max(min(m.cfg.Retention/10, time.Hour), 100*time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				col, err := m.Collect(ctx)
				switch {
				case err != nil && ctx.Err() == nil:
					m.log.Warn("master: collection", "error", err)
				case col.Entries+col.Objects > 0:
					m.log.Info("master: collected unused map outputs", "entries", col.Entries, "objects", col.Objects)
				}
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

// lineageEntry is an entry of the lineage index with its key and revision.
type lineageEntry struct {
	mr.LineageEntry
	key      string
	revision uint64
}

func (m *Master) lineageEntries(ctx context.Context) ([]lineageEntry, error) {
	w, err := m.store.Lineage.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("read lineage: %w", err)
	}
	defer w.Stop()
	var entries []lineageEntry
	for {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case kv := <-w.Updates():
			if kv == nil {
				return entries, nil // every entry there is
			}
			e := lineageEntry{key: kv.Key(), revision: kv.Revision()}
			if json.Unmarshal(kv.Value(), &e.LineageEntry) == nil {
				entries = append(entries, e)
			}
		}
	}
}

// referencesLocked returns the map outputs, by their MapOutputs prefix,
// that the map commits of running jobs reference or that a job being
// submitted is adopting, and the IDs of ended jobs.
func (m *Master) referencesLocked() (live, ended map[string]bool) {
	live, ended = map[string]bool{}, map[string]bool{}
	for p := range m.pinned {
		live[p] = true
	}
	for id, v := range m.jobs {
		if state, _ := m.stateLocked(id, v); state.Ended() {
			ended[id] = true
			continue
		}
		for _, c := range v.commits {
			if c.Map != nil {
				live[c.Map.Prefix] = true
			}
		}
	}
	return live, ended
}
