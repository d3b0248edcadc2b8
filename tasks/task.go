package tasks

import (
	"time"

	"github.com/drover-dev/drover/rpcq"
)

// Limits on what a task carries. Every record read from the bus is checked
// against them before it is used.
const (
	// MaxIDLen bounds a task ID.
	MaxIDLen = 128
	// MaxQueueLen bounds a queue or group name.
	MaxQueueLen = 64
	// MaxTypeLen bounds a task's type name.
	MaxTypeLen = 256
	// MaxPayloadSize bounds a task's payload.
	MaxPayloadSize = 256 << 10
	// MaxResultSize bounds a task's result.
	MaxResultSize = 256 << 10
	// MaxErrorLen bounds the error kept of a failed attempt; longer ones
	// are cut.
	MaxErrorLen = 1024
	// MaxMaxRetry bounds the MaxRetry option.
	MaxMaxRetry = 10000
)

// Defaults of a task's options.
const (
	// DefaultQueue is the queue of a task enqueued without Queue.
	DefaultQueue = "default"
	// DefaultMaxRetry is how many times a failed task is tried again.
	DefaultMaxRetry = 25
	// DefaultTimeout bounds each attempt of a task.
	DefaultTimeout = 30 * time.Minute
)

// State is where a task stands.
type State string

// The states of a task. A task is pending (ready now) or scheduled (ready
// later), running once a worker starts it, retrying between a failed
// attempt and its next one, and finally done (with its result) or
// archived (it used up its retries, failed with SkipRetry, passed its
// deadline or was cancelled; Rerun runs it again).
const (
	StatePending   State = "pending"
	StateScheduled State = "scheduled"
	StateRunning   State = "running"
	StateRetrying  State = "retrying"
	StateArchived  State = "archived"
	StateDone      State = "done"
)

// States lists every state, in a task's order of life.
var States = []State{StatePending, StateScheduled, StateRunning, StateRetrying, StateArchived, StateDone}

func (s State) valid() bool {
	switch s {
	case StatePending, StateScheduled, StateRunning, StateRetrying, StateArchived, StateDone:
		return true
	}
	return false
}

// terminal reports whether a task in state s will not run again unless
// re-run: it holds no place in its group.
func (s State) terminal() bool { return s == StateDone || s == StateArchived }

// Task is a unit of work: a type, which picks the handler, and a payload
// for it. The payload is encoded as rpcq encodes arguments: msgpack by
// default (NewTask), JSON on request (NewJSONTask), with ContentType
// saying which.
type Task struct {
	Type        string
	Payload     []byte
	ContentType string // rpcq.ContentTypeMsgpack (the default when empty) or rpcq.ContentTypeJSON
}

// NewTask returns a task of typ whose payload is v in msgpack (v's `json`
// struct tags name its fields, as in rpcq). v may be nil.
func NewTask(typ string, v any) (*Task, error) { return newTask(typ, v, rpcq.Msgpack) }

// NewJSONTask is NewTask with the payload in JSON, for tasks that
// programs in other languages read or write.
func NewJSONTask(typ string, v any) (*Task, error) { return newTask(typ, v, rpcq.JSON) }

func newTask(typ string, v any, c rpcq.Codec) (*Task, error) {
	t := &Task{Type: typ, ContentType: c.ContentType()}
	if v != nil {
		data, err := c.Marshal(v)
		if err != nil {
			return nil, err
		}
		t.Payload = data
	}
	return t, nil
}

// codec is the codec of the task's payload and result.
func (t *Task) codec() rpcq.Codec {
	if t.ContentType == rpcq.ContentTypeJSON {
		return rpcq.JSON
	}
	return rpcq.Msgpack
}

// Decode decodes the payload into v.
func (t *Task) Decode(v any) error { return t.codec().Unmarshal(t.Payload, v) }

// TaskInfo is a task as its record stands: what was enqueued, its options
// and where it is now. The handler gets one, and so do the callers of
// Enqueue, Inspect, Result, Wait and List; it is a copy, owned by the
// caller.
type TaskInfo struct {
	Task
	ID    string
	Queue string
	Group string // "" if none
	State State
	// Duplicate is true when Enqueue found a task with the same ID and
	// returned it instead of enqueuing.
	Duplicate bool

	MaxRetry  int           // how many times a failed attempt is tried again
	Retried   int           // how many times it was
	Timeout   time.Duration // of each attempt
	Deadline  time.Time     // zero if none
	ProcessAt time.Time     // when it is (or was) ready to run: after its schedule or its backoff
	Retention time.Duration // how long it is kept once done

	Attempt     int    // attempts started
	Worker      string // the worker of the last attempt
	LastError   string
	LastFailed  time.Time
	EnqueuedAt  time.Time
	StartedAt   time.Time // of the last attempt
	CompletedAt time.Time // when it was done or archived
	Result      []byte    // the handler's result, encoded with the payload's codec; nil if none
}

// DecodeResult decodes the result into v.
func (ti *TaskInfo) DecodeResult(v any) error { return ti.codec().Unmarshal(ti.Result, v) }
