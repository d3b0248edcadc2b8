// Package dashboardtest has a Source for tests of the dashboard's pages:
// jobs, workers and a cluster held in memory.
package dashboardtest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/drover-dev/drover/dashboard"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// Source is a dashboard.Source of what its fields hold. Set the fields
// before the first call; Cancel marks a job cancelled. It is safe for
// concurrent use.
type Source struct {
	mu sync.Mutex
	// Data are the jobs, by ID.
	Data map[string]dashboard.JobData
	// Order lists the job IDs newest first, as the master lists them;
	// nil means Data's IDs, sorted by submission, newest first.
	Order   []string
	Live    []mr.WorkerInfo
	Skipped int
	Info    dashboard.Cluster
	// Cancelled are the jobs Cancel was called on, in order.
	Cancelled []string
	// Err, if set, is every call's error.
	Err error
}

// Add adds a job with d.Status.ID.
func (s *Source) Add(d dashboard.JobData) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Data == nil {
		s.Data = map[string]dashboard.JobData{}
	}
	s.Data[d.Status.ID] = d
	s.Order = nil
}

func (s *Source) order() []string {
	if s.Order != nil {
		return s.Order
	}
	ids := make([]string, 0, len(s.Data))
	for id := range s.Data {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		return cmp.Or(cmp.Compare(s.Data[b].Status.Submitted, s.Data[a].Status.Submitted), cmp.Compare(b, a))
	})
	s.Order = ids
	return ids
}

// Jobs pages as Master.ListPage does, in the jobs' list view.
func (s *Source) Jobs(_ context.Context, after string, limit int) (master.ListPage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return master.ListPage{}, s.Err
	}
	ids := s.order()
	start := 0
	if after != "" {
		i := slices.Index(ids, after)
		if i < 0 {
			return master.ListPage{}, fmt.Errorf("%w: %s", dashboard.ErrNoJob, after)
		}
		start = i + 1
	}
	limit = min(cmp.Or(limit, master.DefaultListLimit), master.MaxListLimit)
	page := master.ListPage{Jobs: []master.JobStatus{}}
	for _, id := range ids[start:] {
		if len(page.Jobs) == limit {
			page.Next = page.Jobs[len(page.Jobs)-1].ID
			break
		}
		st := s.Data[id].Status
		st.Outputs, st.OutputDigests, st.Notes = nil, nil, nil
		page.Jobs = append(page.Jobs, st)
	}
	return page, nil
}

// Job answers the job's data.
func (s *Source) Job(_ context.Context, id string) (dashboard.JobData, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return dashboard.JobData{}, s.Err
	}
	d, ok := s.Data[id]
	if !ok {
		return d, fmt.Errorf("%w: %s", dashboard.ErrNoJob, id)
	}
	return d, nil
}

// Cancel marks the job cancelled.
func (s *Source) Cancel(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Err != nil {
		return s.Err
	}
	d, ok := s.Data[id]
	if !ok {
		return fmt.Errorf("%w: %s", dashboard.ErrNoJob, id)
	}
	s.Cancelled = append(s.Cancelled, id)
	if !d.Status.State.Ended() {
		d.Status.State = master.JobCancelled
		s.Data[id] = d
	}
	return nil
}

// Workers answers Live and Skipped.
func (s *Source) Workers(context.Context) ([]mr.WorkerInfo, int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.Live), s.Skipped, s.Err
}

// Cluster answers Info.
func (s *Source) Cluster(context.Context) (dashboard.Cluster, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Info, s.Err
}
