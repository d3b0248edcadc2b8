package master

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// A job's runs (its spec, the events of its attempts, its commits) are
// read through the master (Master.Runs), as its outputs are (see
// output.go): NATS permissions cannot keep a reader of the event stream
// or of the jobs and commits buckets to some jobs, since job IDs say
// nothing of their owners.

// RunsArgs ask Master.Runs for a page of a job's runs: zero values for
// the first page, the page before's Next and NextCommit for the others.
type RunsArgs struct {
	ID         string `json:"id"`
	After      uint64 `json:"after,omitempty"`
	NextCommit int    `json:"next_commit,omitempty"`
}

// RunsPage is a page of a job's runs: its events, in the order the event
// stream stored them, then its commits. Pages follow one another until
// one is Done.
type RunsPage struct {
	// Spec is the job's spec, on the first page.
	Spec *mr.JobSpec `json:"spec,omitempty"`
	// Events are the job's started, failed and published events.
	Events []RunEvent `json:"events,omitempty"`
	// Commits are the job's commits, each with what says who ran what
	// (phase, index, attempt, worker, time, the job reused from) and
	// nothing of the outputs, in task order.
	Commits []mr.Commit `json:"commits,omitempty"`
	// Next and NextCommit are the next page's RunsArgs.
	Next       uint64 `json:"next,omitempty"`
	NextCommit int    `json:"next_commit,omitempty"`
	Done       bool   `json:"done,omitempty"`
}

// RunEvent is an event of a job's runs and when the broker stored it.
type RunEvent struct {
	Event mr.Event `json:"event"`
	At    int64    `json:"at"` // Unix nanoseconds, the broker's clock
}

// Bounds of a page: it must fit a reply, whatever workers wrote in their
// events (an error is clipped to maxErrorLen).
const (
	maxPageEvents  = 2_000
	maxPageBytes   = 384 << 10 // of the events' messages
	maxPageCommits = 4_000
	// fetchWait bounds a pull of events the consumer said were there, and
	// fetchBatch is how many a pull asks for: a page stops at
	// maxPageBytes, and what it pulled past them is pulled again.
	fetchWait  = 2 * time.Second
	fetchBatch = 256
)

// reusedElsewhere stands, for a caller who sees its own jobs alone, for
// the ID of another's job whose map output its job reused.
const reusedElsewhere = "another user's job"

// runKinds are the events a job's runs are drawn from.
var runKinds = []mr.EventKind{mr.EventStarted, mr.EventFailed, mr.EventPublished}

// Runs is the page of job id's runs that a asks for, for caller ("" for
// one who may see every job).
func (m *Master) Runs(ctx context.Context, caller string, a RunsArgs) (RunsPage, error) {
	if !m.sees(caller, a.ID) {
		return RunsPage{}, noJob(a.ID)
	}
	if a.NextCommit < 0 {
		return RunsPage{}, rpcq.Errorf(rpcq.CodeBadRequest, "next commit %d is negative", a.NextCommit)
	}
	var page RunsPage
	if a.After == 0 && a.NextCommit == 0 {
		page.Spec = m.spec(a.ID)
	}
	if a.NextCommit == 0 {
		events, next, more, err := m.runEvents(ctx, a.ID, a.After)
		if err != nil {
			return RunsPage{}, err
		}
		if page.Events = events; more {
			page.Next = next
			return page, nil
		}
	}
	page.Commits, page.NextCommit, page.Done = m.commitsFrom(caller, a.ID, a.NextCommit)
	return page, nil
}

// spec is job id's spec, or nil for a job the master could not load.
func (m *Master) spec(id string) *mr.JobSpec {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.jobs[id]
	if v == nil || v.quarantined {
		return nil
	}
	spec := v.rec.Spec
	return &spec
}

// runEvents are job id's run events stored after the stream sequence
// after, a page of them, with the sequence of the last and whether more
// follow. Workers write events: each is checked and clipped.
func (m *Master) runEvents(ctx context.Context, id string, after uint64) (events []RunEvent, last uint64, more bool, err error) {
	if after == math.MaxUint64 {
		return nil, 0, false, nil
	}
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	for _, kind := range runKinds {
		cfg.FilterSubjects = append(cfg.FilterSubjects, mr.EventSubject(id, kind))
	}
	if after > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, after+1
	}
	cons, err := m.store.Events.OrderedConsumer(ctx, cfg)
	if err != nil {
		return nil, 0, false, err
	}
	// Ask first how many there are: a pull that finds nothing waits out
	// its time, and one that asks for as many as there are returns as
	// soon as they are in.
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	pending, size := info.NumPending, 0
	for pending > 0 && len(events) < maxPageEvents && size < maxPageBytes {
		batch, err := cons.Fetch(int(min(pending, fetchBatch, uint64(maxPageEvents-len(events)))), jetstream.FetchMaxWait(fetchWait))
		if err != nil {
			return nil, 0, false, err
		}
		got := 0
		for msg := range batch.Messages() {
			meta, err := msg.Metadata()
			if err != nil || size >= maxPageBytes {
				continue // the rest of the batch comes again on the next page
			}
			got++
			size += len(msg.Data())
			last, pending = meta.Sequence.Stream, meta.NumPending
			var ev mr.Event
			if json.Unmarshal(msg.Data(), &ev) != nil || ev.Job != id || !slices.Contains(runKinds, ev.Kind) {
				continue
			}
			ev.Error, ev.Worker, ev.Why, ev.Ack = clip(ev.Error, maxErrorLen), clip(ev.Worker, maxNameLen), clip(ev.Why, maxNameLen), ""
			events = append(events, RunEvent{Event: ev, At: meta.Timestamp.UnixNano()})
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, 0, false, err
		}
		if got == 0 {
			break
		}
	}
	return events, last, pending > 0, nil
}

// commitsFrom are job id's commits from the from-th in task order, a page
// of them, with where the next page starts and whether this is the last.
// A map reused from a job caller may not see names no job.
func (m *Master) commitsFrom(caller, id string, from int) (commits []mr.Commit, next int, done bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.jobs[id]
	if v == nil {
		return nil, 0, true
	}
	tasks := make([]TaskID, 0, len(v.commits))
	for tid := range v.commits {
		tasks = append(tasks, tid)
	}
	slices.SortFunc(tasks, func(a, b TaskID) int {
		return cmp.Or(cmp.Compare(a.Phase, b.Phase), cmp.Compare(a.Index, b.Index))
	})
	from = min(from, len(tasks))
	end := min(from+maxPageCommits, len(tasks))
	for _, tid := range tasks[from:end] {
		c := v.commits[tid]
		if c.Reused != "" && !seesLocked(caller, m.jobs[c.Reused]) {
			c.Reused = reusedElsewhere
		}
		commits = append(commits, mr.Commit{Job: id, Phase: c.Phase, Index: c.Index, Attempt: c.Attempt,
			Worker: clip(c.Worker, maxNameLen), At: c.At, Reused: clip(c.Reused, maxNameLen)})
	}
	return commits, end, end == len(tasks)
}
