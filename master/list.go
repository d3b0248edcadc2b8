package master

import (
	"cmp"
	"encoding/json"
	"slices"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// Bounds of a page of List and ListPage.
const (
	// DefaultListLimit is how many jobs a page has when ListArgs.Limit is
	// zero: the first page of the old List, which took no arguments.
	DefaultListLimit = 100
	// MaxListLimit is the most jobs one page has; a larger Limit is taken
	// as this.
	MaxListLimit = 100
	// maxListBytes bounds a page's jobs encoded, well inside NATS's
	// default max payload of 1 MiB: a page ends early rather than exceed it.
	maxListBytes = 512 << 10
	// maxListErrorLen is how much of a job's error its list entry shows.
	maxListErrorLen = 200
)

// ListArgs are the arguments of List and ListPage: which page of jobs,
// newest first. The zero value asks for the first page.
type ListArgs struct {
	// Limit is the most jobs of the page: 0 means DefaultListLimit, more
	// than MaxListLimit means MaxListLimit.
	Limit int `json:"limit,omitempty"`
	// After is the ID of the last job of the previous page (its Next);
	// empty for the first page.
	After string `json:"after,omitempty"`
	// Owner, if set, lists the jobs of that owner alone (JobStatus.Owner).
	// A call that names its caller lists the caller's, whatever it says.
	Owner string `json:"owner,omitempty"`
}

// ListPage is a page of jobs, newest first, as ListPage answers it.
type ListPage struct {
	// Jobs are in their list view: as Status reports them but without
	// outputs and notes, and with their error cut to a line.
	Jobs []JobStatus `json:"jobs"`
	// Next is the After of the next page; empty on the last page.
	Next string `json:"next,omitempty"`
}

// ListPage returns a page of the jobs the master knows, newest first (by
// submission, then by ID), in their list view. A page holds at most
// MaxListLimit jobs and always fits one NATS message, whatever the jobs
// are: page on with After set to its Next. An After the master does not
// know is an error.
func (m *Master) ListPage(args ListArgs) (ListPage, error) {
	limit := min(cmp.Or(args.Limit, DefaultListLimit), MaxListLimit)
	switch {
	case args.Limit < 0:
		return ListPage{}, rpcq.Errorf(rpcq.CodeBadRequest, "limit is %d: want 1 to %d jobs a page (or 0 for %d)", args.Limit, MaxListLimit, DefaultListLimit)
	case len(args.After) > mr.MaxJobIDLen+len(quarantinePrefix)+256:
		return ListPage{}, rpcq.Errorf(rpcq.CodeBadRequest, "after is %d bytes: want a job ID", len(args.After))
	case len(args.Owner) > rpcq.MaxCallerLen:
		return ListPage{}, rpcq.Errorf(rpcq.CodeBadRequest, "owner is %d bytes: want at most %d", len(args.Owner), rpcq.MaxCallerLen)
	}
	type entry struct {
		id        string
		submitted int64
	}
	m.mu.Lock()
	all := make([]entry, 0, len(m.jobs))
	for id, v := range m.jobs {
		if args.Owner == "" || v.rec.Owner == args.Owner {
			all = append(all, entry{id, v.rec.Submitted})
		}
	}
	m.mu.Unlock()
	slices.SortFunc(all, func(a, b entry) int { return cmp.Or(cmp.Compare(b.submitted, a.submitted), cmp.Compare(b.id, a.id)) })
	start := 0
	if args.After != "" {
		i := slices.IndexFunc(all, func(e entry) bool { return e.id == args.After })
		if i < 0 {
			return ListPage{}, rpcq.Errorf(rpcq.CodeUnknownMethod, "no job %s to list after: list from the first page", args.After)
		}
		start = i + 1
	}
	var page ListPage
	size := 0
	for _, e := range all[start:] {
		if len(page.Jobs) == limit {
			page.Next = page.Jobs[len(page.Jobs)-1].ID
			break
		}
		st, ok := m.Status(e.id)
		if !ok {
			continue
		}
		st = listView(st)
		data, _ := json.Marshal(st)
		if size += len(data); size > maxListBytes && len(page.Jobs) > 0 {
			page.Next = page.Jobs[len(page.Jobs)-1].ID
			break
		}
		page.Jobs = append(page.Jobs, st)
	}
	if page.Jobs == nil {
		page.Jobs = []JobStatus{}
	}
	return page, nil
}

// List is ListPage without the cursor: its jobs only. Its zero arguments
// ask for the first page, as the List that took no arguments answered
// every job.
func (m *Master) List(args ListArgs) ([]JobStatus, error) {
	page, err := m.ListPage(args)
	return page.Jobs, err
}

// listView is st as a list shows it: without what grows with the job
// (outputs, notes), and its error cut, so that a page of jobs fits one
// message whatever the jobs are.
func listView(st JobStatus) JobStatus {
	st.Outputs, st.OutputDigests, st.Notes = nil, nil, nil
	st.Error = clip(st.Error, maxListErrorLen)
	return st
}
