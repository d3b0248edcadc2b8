package tasks

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/drover-dev/drover/rpcq"
)

// MaxRecordSize bounds a task record as stored: its payload, its result
// and what is said about them. It is the task bucket's MaxValueSize, so
// that the broker refuses a bigger one from anybody.
const MaxRecordSize = (MaxPayloadSize+MaxResultSize)*4/3 + 64<<10 // JSON's base64 takes 4/3 of the bytes

// record is a task as BucketTasks stores it, under its ID: the one
// source of truth of the task. It is JSON, so that `nats kv get` shows
// it. Times are Unix nanoseconds, durations nanoseconds, 0 for none.
type record struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	Queue       string `json:"queue"`
	Group       string `json:"group,omitempty"`
	Payload     []byte `json:"payload,omitempty"`
	ContentType string `json:"content_type,omitempty"`

	State State `json:"state"`
	// Run names the task's current run, drawn at random by Enqueue and
	// again by each Rerun. The queue message of a run carries it, so that a
	// message of an earlier run (or of a task deleted and enqueued again
	// under the same ID) is told from the current one.
	Run string `json:"run"`
	// Seq is the stream sequence of the queue message that claimed the
	// run: another message of the same run (a copy, published by mistake
	// or in malice) is dropped while that one is in the queue.
	Seq uint64 `json:"seq,omitempty"`

	MaxRetry   int   `json:"max_retry"`
	Retried    int   `json:"retried"`
	Timeout    int64 `json:"timeout"`
	Deadline   int64 `json:"deadline,omitempty"`
	ProcessAt  int64 `json:"process_at,omitempty"`
	Retention  int64 `json:"retention,omitempty"`
	ArchiveFor int64 `json:"archive_for,omitempty"`

	Attempt     int    `json:"attempt"`
	Worker      string `json:"worker,omitempty"`
	LastError   string `json:"last_error,omitempty"`
	LastFailed  int64  `json:"last_failed,omitempty"`
	EnqueuedAt  int64  `json:"enqueued_at"`
	StartedAt   int64  `json:"started_at,omitempty"`
	CompletedAt int64  `json:"completed_at,omitempty"`
	Result      []byte `json:"result,omitempty"`
}

// validate checks r against the limits: a record from the bus that fails
// is never run.
func (r *record) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidTask}, args...)...)
	}
	switch {
	case !validName(r.ID, MaxIDLen):
		return bad("ID %.140q: want 1 to %d letters, digits, '-', '_' or '='", r.ID, MaxIDLen)
	case !validName(r.Queue, MaxQueueLen):
		return bad("queue %.80q: want 1 to %d letters, digits, '-', '_' or '='", r.Queue, MaxQueueLen)
	case r.Group != "" && !validName(r.Group, MaxQueueLen):
		return bad("group %.80q: want 1 to %d letters, digits, '-', '_' or '='", r.Group, MaxQueueLen)
	case r.Type == "" || len(r.Type) > MaxTypeLen:
		return bad("type of %d bytes: want 1 to %d", len(r.Type), MaxTypeLen)
	case len(r.Payload) > MaxPayloadSize:
		return bad("payload of %d bytes: at most %d", len(r.Payload), MaxPayloadSize)
	case len(r.Result) > MaxResultSize:
		return bad("result of %d bytes: at most %d", len(r.Result), MaxResultSize)
	case r.ContentType != "" && r.ContentType != rpcq.ContentTypeMsgpack && r.ContentType != rpcq.ContentTypeJSON:
		return bad("content type %.80q", r.ContentType)
	case !r.State.valid():
		return bad("state %.40q", r.State)
	case !validName(r.Run, MaxRunLen):
		return bad("run %.40q", r.Run)
	case r.MaxRetry < 0 || r.MaxRetry > MaxMaxRetry:
		return bad("MaxRetry %d: want 0 to %d", r.MaxRetry, MaxMaxRetry)
	case r.Retried < 0 || r.Attempt < 0:
		return bad("retried %d, attempt %d", r.Retried, r.Attempt)
	case r.Timeout <= 0:
		return bad("timeout %v", time.Duration(r.Timeout))
	case r.Retention < 0 || r.ArchiveFor < 0:
		return bad("retention %v, archived for %v", time.Duration(r.Retention), time.Duration(r.ArchiveFor))
	case len(r.LastError) > MaxErrorLen || len(r.Worker) > MaxTypeLen:
		return bad("last error of %d bytes, worker of %d", len(r.LastError), len(r.Worker))
	}
	return nil
}

// decodeRecord reads and validates a stored record.
func decodeRecord(data []byte) (record, error) {
	var r record
	if len(data) > MaxRecordSize {
		return r, fmt.Errorf("%w: record of %d bytes", ErrInvalidTask, len(data))
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%w: %v", ErrInvalidTask, err)
	}
	return r, r.validate()
}

func (r *record) encode() []byte {
	data, _ := json.Marshal(r) // a record has nothing json cannot encode
	return data
}

// info is r as a caller sees it at now: a scheduled task whose time has
// come is pending.
func (r *record) info(now time.Time) *TaskInfo {
	ti := &TaskInfo{
		Task: Task{Type: r.Type, Payload: r.Payload, ContentType: r.ContentType},
		ID:   r.ID, Queue: r.Queue, Group: r.Group, State: r.State,
		MaxRetry: r.MaxRetry, Retried: r.Retried, Timeout: time.Duration(r.Timeout),
		Deadline: unixTime(r.Deadline), ProcessAt: unixTime(r.ProcessAt), Retention: time.Duration(r.Retention),
		Attempt: r.Attempt, Worker: r.Worker, LastError: r.LastError, LastFailed: unixTime(r.LastFailed),
		EnqueuedAt: unixTime(r.EnqueuedAt), StartedAt: unixTime(r.StartedAt), CompletedAt: unixTime(r.CompletedAt),
		Result: r.Result,
	}
	if ti.State == StateScheduled && r.ProcessAt <= now.UnixNano() {
		ti.State = StatePending
	}
	return ti
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
