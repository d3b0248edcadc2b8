package mr

import "time"

// Task is a task message: one attempt of a map or reduce task, as the
// master publishes it on TaskSubject with MsgID for deduplication.
type Task struct {
	Job     string        `json:"job"`
	Phase   Phase         `json:"phase"`
	Index   int           `json:"index"`
	Attempt int           `json:"attempt"`
	App     string        `json:"app"`
	Args    []string      `json:"args,omitempty"`
	R       int           `json:"r"`
	Timeout time.Duration `json:"timeout"` // the attempt's deadline is its start plus this, in the master's clock

	// A map task's input.
	Input *Input `json:"input,omitempty"`
	Split Split  `json:"split"`

	// A reduce task reads partition Index of every committed map output.
	Maps int `json:"maps,omitempty"`

	// Skip lists the byte offsets of input records a map skips: records on
	// which earlier attempts failed, in a job that skips bad records.
	Skip []int64 `json:"skip,omitempty"`
}

// Commit is a task's commit record, created (never overwritten) under
// CommitKey by the first attempt to finish: readers follow only commit
// records, so an attempt's output is visible whole or not at all.
type Commit struct {
	Job      string   `json:"job"`
	Phase    Phase    `json:"phase"`
	Index    int      `json:"index"`
	Attempt  int      `json:"attempt"`
	Worker   string   `json:"worker"`
	Outputs  []string `json:"outputs"` // objects: R partitions of a map ("" for an empty one), the one output of a reduce
	Counters Counters `json:"counters"`
	Skipped  []int64  `json:"skipped,omitempty"` // offsets of the input records the attempt skipped
	At       int64    `json:"at"`                // Unix nanoseconds, the worker's clock
	// Lineage is a map output's lineage key, when another job may reuse
	// it: not for a path input, nor for an attempt that skipped records.
	Lineage string `json:"lineage,omitempty"`
	// Reused names the earlier job whose map output this commit adopts:
	// no attempt of this task ran.
	Reused string `json:"reused,omitempty"`
}

// Event is what a worker reports on EventSubject.
type Event struct {
	Kind     EventKind `json:"kind"`
	Job      string    `json:"job"`
	Phase    Phase     `json:"phase"`
	Index    int       `json:"index"`
	Attempt  int       `json:"attempt"`
	Worker   string    `json:"worker"`
	Fraction float64   `json:"fraction,omitempty"` // progress
	Deadline int64     `json:"deadline,omitempty"` // started: Unix nanoseconds, the master's clock
	Error    string    `json:"error,omitempty"`    // failed, inputlost
	Map      int       `json:"map"`                // inputlost: the map task whose output is lost
	// MapAttempt is, for inputlost, the attempt whose committed output
	// was unreadable: a report about a commit since replaced is stale.
	MapAttempt *int   `json:"map_attempt,omitempty"`
	Record     *int64 `json:"record,omitempty"` // failed: the offset of the input record a map failed on
	Why        string `json:"why,omitempty"`    // published: failed, deadline, backup or recompute
}
