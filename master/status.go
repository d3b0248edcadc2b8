package master

import (
	"github.com/drover-dev/drover/mr"
)

// JobStatus is what the master says of a job: what `drover status` shows.
type JobStatus struct {
	ID         string      `json:"id"`
	App        string      `json:"app"`
	State      JobState    `json:"state"`
	Error      string      `json:"error,omitempty"`
	Maps       int         `json:"maps"`
	MapsDone   int         `json:"maps_done"`
	MapsReused int         `json:"maps_reused"` // of MapsDone, committed with an earlier job's output
	Reduces    int         `json:"reduces"`
	ReduceDone int         `json:"reduces_done"`
	Counters   mr.Counters `json:"counters"` // summed over committed attempts only
	Outputs    []string    `json:"outputs,omitempty"`
	// OutputDigests are the digests the reduces' commits record for
	// Outputs ("" where a commit records none), for readers to check.
	OutputDigests []string `json:"output_digests,omitempty"`
	Notes         []string `json:"notes,omitempty"` // bad records skipped, recomputations and their reasons
	// Waiting says what a job in state JobWaiting waits for: a worker
	// that can run it (see Config.HoldJobs).
	Waiting string `json:"waiting,omitempty"`
	// Owner is the user who submitted the job, as its call to the master
	// named it (see SubmitAs); empty for a job submitted without a name.
	Owner     string      `json:"owner,omitempty"`
	Backups   BackupStats `json:"backups"`         // backup attempts of stragglers
	Submitted int64       `json:"submitted"`       // Unix nanoseconds
	Ended     int64       `json:"ended,omitempty"` // Unix nanoseconds
}

// jobRecord is a job's entry in the jobs bucket: its spec and how it ended.
type jobRecord struct {
	Spec      mr.JobSpec `json:"spec"`
	Owner     string     `json:"owner,omitempty"` // see JobStatus.Owner
	State     JobState   `json:"state"`
	Error     string     `json:"error,omitempty"`
	Submitted int64      `json:"submitted"`
	Ended     int64      `json:"ended,omitempty"`
}

// SubmitArgs are Master.Submit's arguments.
type SubmitArgs struct {
	Spec mr.JobSpec `json:"spec"`
}

// SubmitReply is Master.Submit's reply.
type SubmitReply struct {
	ID string `json:"id"`
}

// JobArgs name a job, for Master.Status and Master.Cancel.
type JobArgs struct {
	ID string `json:"id"`
}
