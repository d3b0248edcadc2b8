package dashboard

import (
	"context"
	"time"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// Source is where the dashboard reads what it shows and sends what it is
// asked to do. NewJetStream makes the one that reads a deployment; tests
// give their own. Its methods are called from many requests at once.
type Source interface {
	// Jobs is a page of at most limit jobs, newest first, after the job
	// named after ("" for the first page), as Master.ListPage answers.
	Jobs(ctx context.Context, after string, limit int) (master.ListPage, error)
	// Job is everything about one job. An unknown job is an error that
	// wraps ErrNoJob.
	Job(ctx context.Context, id string) (JobData, error)
	// Cancel stops a job, as Master.Cancel does.
	Cancel(ctx context.Context, id string) error
	// Workers are the live workers of the worker registry, in any
	// order, and how many entries could not be read.
	Workers(ctx context.Context) (workers []mr.WorkerInfo, skipped int, err error)
	// Cluster is the broker nodes and the protocol's streams.
	Cluster(ctx context.Context) (Cluster, error)
}

// JobData is what a job page shows, as read: the master's status of the
// job, its spec as stored, and its events and commit records.
type JobData struct {
	Status master.JobStatus
	Spec   *mr.JobSpec // nil when the record could not be read
	// Records are the job's started, failed and published events, in the
	// order they were stored.
	Records []Record
	Commits []mr.Commit
	// Truncated says the job had more events than the dashboard reads
	// (MaxEvents): the runs shown are the first ones.
	Truncated bool
}

// Cluster is the broker nodes the dashboard knows of and the protocol's
// streams with their replicas.
type Cluster struct {
	// Connected is the server the dashboard's connection is on.
	Connected string
	// Nodes are every server named by the connection or by a stream's
	// replicas, sorted.
	Nodes   []string
	Streams []Stream
}

// Stream is a stream, a bucket's stream or an object store's, with its
// replicas as JetStream's StreamInfo.Cluster reports them.
type Stream struct {
	Name     string
	Kind     string // "stream", "bucket" or "object store"
	Replicas int    // as configured
	Messages uint64
	Bytes    uint64
	Leader   string // "" when it has none
	Peers    []Peer // the followers
	Error    string // why its info could not be read, if it could not
}

// Peer is a follower of a stream.
type Peer struct {
	Name    string
	Current bool
	Offline bool
	Lag     uint64        // operations behind the leader
	Active  time.Duration // since it was last heard from
}
