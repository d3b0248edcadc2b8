package mr

import (
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

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
	Job     string `json:"job"`
	Phase   Phase  `json:"phase"`
	Index   int    `json:"index"`
	Attempt int    `json:"attempt"`
	Worker  string `json:"worker"`
	// Map names a map's output objects; Outputs, the one output object of
	// a reduce.
	Map     *MapOutputs `json:"map,omitempty"`
	Outputs []string    `json:"outputs,omitempty"`
	// Digests holds a reduce's output's digest in the object store, as the
	// worker stored it: anyone who may write objects could rewrite it,
	// but only workers write commits, so a reader that finds another
	// digest knows the output is not what the task wrote (see
	// CheckOutput). A map's commit has none: R of them would not fit one
	// message at the largest R.
	Digests  []string `json:"digests,omitempty"`
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

// Objects lists every object the commit names: a map's non-empty
// partitions, or a reduce's output.
func (c *Commit) Objects() []string {
	if c.Map != nil {
		return c.Map.Objects()
	}
	return slices.DeleteFunc(slices.Clone(c.Outputs), func(o string) bool { return o == "" })
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
	// Ack is, for started, the acknowledgement subject of the task
	// message the worker took (under TaskAckPrefix): a master that finds
	// the worker gone hands the message back there at once.
	Ack string `json:"ack,omitempty"`
}

// DecodeTask decodes a task message, as the master publishes it, and
// checks it against the protocol and its limits, as a worker must before
// it acts on one: anyone who may publish on the task subjects may send
// anything. Errors wrap ErrInvalidTask; those of a field are *SpecError.
func DecodeTask(data []byte) (Task, error) {
	var t Task
	if err := json.Unmarshal(data, &t); err != nil {
		return Task{}, fmt.Errorf("%w: %v", ErrInvalidTask, err)
	}
	if err := t.Validate(); err != nil {
		return Task{}, err
	}
	return t, nil
}

// Validate checks a task against the protocol and its limits: what the
// master publishes always passes.
func (t *Task) Validate() error {
	switch {
	case len(t.Job) > MaxJobIDLen || !validToken(t.Job):
		return taskErrorf("job", "%.80q: want 1 to %d ASCII letters, digits, '-' and '_'", t.Job, MaxJobIDLen)
	case t.Phase != PhaseMap && t.Phase != PhaseReduce:
		return taskErrorf("phase", "%.20q: want %s or %s", t.Phase, PhaseMap, PhaseReduce)
	case t.R < 1 || t.R > MaxR:
		return taskErrorf("r", "is %d: want 1 to %d", t.R, MaxR)
	case t.Attempt < 0 || t.Attempt > MaxTaskAttempt:
		return taskErrorf("attempt", "is %d: want 1 to %d", t.Attempt, MaxTaskAttempt)
	case t.Timeout <= 0 || t.Timeout > MaxTimeout:
		return taskErrorf("timeout", "is %v: want more than 0 and at most %v", t.Timeout, MaxTimeout)
	}
	if err := checkAppName("app", t.App, taskErrorf); err != nil {
		return err
	}
	if err := checkArgs("args", t.Args, taskErrorf); err != nil {
		return err
	}
	if t.Phase == PhaseReduce {
		switch {
		case t.Index < 0 || t.Index >= t.R:
			return taskErrorf("index", "is %d: want 0 to R-1, %d", t.Index, t.R-1)
		case t.Maps < 0 || t.Maps > MaxMapTasks || t.Maps*t.R > MaxMapOutputs:
			return taskErrorf("maps", "is %d: want 0 to %d, and times R at most %d", t.Maps, MaxMapTasks, MaxMapOutputs)
		}
		return nil
	}
	switch {
	case t.Index < 0 || t.Index >= MaxMapTasks:
		return taskErrorf("index", "is %d: want 0 to %d", t.Index, MaxMapTasks-1)
	case t.Input == nil:
		return taskErrorf("input", "is missing: a map task reads one")
	}
	if err := t.Input.check("input", taskErrorf); err != nil {
		return err
	}
	switch {
	case t.Split.Start < 0 || t.Split.Start > t.Split.End || t.Split.End > t.Input.Size:
		return taskErrorf("split", "is [%d, %d): want a range within the input's %d bytes", t.Split.Start, t.Split.End, t.Input.Size)
	case len(t.Skip) > MaxSkippedRecordsCeiling:
		return taskErrorf("skip", "lists %d records: want at most %d", len(t.Skip), MaxSkippedRecordsCeiling)
	}
	for i, off := range t.Skip {
		if off < t.Input.Offset || off > t.Input.Offset+t.Input.Size {
			return taskErrorf(fmt.Sprintf("skip[%d]", i), "is %d: want an offset in the input, %d to %d", off, t.Input.Offset, t.Input.Offset+t.Input.Size)
		}
	}
	return nil
}

// Digest is the digest the commit records for its i'th output, or "" if
// it records none (a commit written before digests were recorded).
func (c *Commit) Digest(i int) string {
	if i < 0 || i >= len(c.Digests) {
		return ""
	}
	return c.Digests[i]
}

// CheckOutput reports ErrOutputChanged when an object's digest is not
// the one its commit recorded; want "" checks nothing. The object store
// checks the bytes read against the object's own digest, so together
// they prove the bytes are the ones the task wrote.
func CheckOutput(name, got, want string) error {
	if want != "" && got != want {
		return fmt.Errorf("%w: %s has digest %s, its commit says %s", ErrOutputChanged, name, got, want)
	}
	return nil
}
