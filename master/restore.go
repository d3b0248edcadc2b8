package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// quarantinePrefix starts the key under which the jobs bucket keeps a job
// record the master could not load, beside the jobs: quarantine.<key>. It
// holds a dot, which no job ID does.
const quarantinePrefix = "quarantine."

// maxQuarantined is how much of a record its quarantine keeps.
const maxQuarantined = 256 << 10

// quarantineRecord is what the jobs bucket keeps of a job record the
// master could not load, and why.
type quarantineRecord struct {
	Key       string `json:"key"`
	Reason    string `json:"reason"`
	At        int64  `json:"at"`        // Unix nanoseconds, when it was set aside
	Submitted int64  `json:"submitted"` // Unix nanoseconds, when the record was stored
	Size      int    `json:"size"`      // of the record
	Record    []byte `json:"record"`    // the record, or its first maxQuarantined bytes
}

// restore loads every job and hands it to the core as the event that made
// it; the commits follow from the commit watch. A record that cannot be
// loaded is set aside (see quarantine): one bad record, stored by an older
// or a hostile master, must not keep the master from serving the others.
func (m *Master) restore(ctx context.Context) error {
	keys, err := m.store.Jobs.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("master: list jobs: %w", err)
	}
	var listed, aside []string
	for key := range keys.Keys() {
		switch {
		case key == leaderKey:
		case strings.HasPrefix(key, quarantinePrefix):
			aside = append(aside, key)
		default:
			listed = append(listed, key)
		}
	}
	if err := ctx.Err(); err != nil {
		return err // the list may have been cut short
	}
	for _, key := range listed {
		if err := m.restoreJob(ctx, key); err != nil {
			return err
		}
	}
	// Those set aside before, unless their job is back under its own key.
	for _, key := range aside {
		if err := m.restoreQuarantined(ctx, key); err != nil {
			return err
		}
	}
	return nil
}

// ErrUnread is the error of a master that could not read a job record
// its bucket lists: it does not serve without it, as a job missing from
// its view would be left alone, its commits ignored and its reduces never
// published. RunLeader starts a master that failed so again.
var ErrUnread = errors.New("master: a listed job record could not be read")

// Reading a listed job record is tried again, backing off, for up to
// readJobWait, each read bounded by readJobTimeout. Reads are direct
// gets, which any replica of the bucket may answer: after a partition,
// one behind its peers answers "not found" of a record stored long
// before, and one cut off, until its peers drop their routes to it,
// does not answer at all.
const (
	readJobWait    = 10 * time.Second
	readJobTimeout = 2 * time.Second
)

// readJob reads the record under key, which was just listed.
func (m *Master) readJob(ctx context.Context, key string) (jetstream.KeyValueEntry, error) {
	start := time.Now()
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, time.Second) {
		rctx, cancel := context.WithTimeout(ctx, readJobTimeout)
		entry, err := m.store.Jobs.Get(rctx, key)
		cancel()
		switch {
		case err == nil:
			return entry, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case time.Since(start)+wait > readJobWait:
			return nil, fmt.Errorf("%w: %s: %w", ErrUnread, key, err)
		case wait == 50*time.Millisecond:
			m.log.Warn("master: job record not read; reading it again", "key", key, "error", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
		}
	}
}

// restoreJob loads the job under key, or quarantines its record.
func (m *Master) restoreJob(ctx context.Context, key string) error {
	entry, err := m.readJob(ctx, key)
	if err != nil {
		return err
	}
	rec, splits, err := loadJob(key, entry.Value(), m.cfg.Apps)
	switch {
	case err == nil && rec.State == JobWaiting:
		m.hold(rec, splits, "waiting for the master to read the worker registry") // release decides
	case err == nil:
		err = m.admit(rec, splits, nil)
	}
	if err != nil {
		m.quarantine(ctx, key, entry, err)
	}
	return nil
}

// loadJob decodes a stored job record and checks it as Submit checks a new
// spec, so that nothing is allocated for it out of bounds: against today's
// limits, and, for a job still running, against the apps; a job that
// ended may name an app since removed. A panic is an error.
func loadJob(key string, data []byte, apps *mr.Registry) (rec jobRecord, splits []mr.MapSplit, err error) {
	defer func() {
		if r := recover(); r != nil {
			rec, splits, err = jobRecord{}, nil, fmt.Errorf("panic: %v", r)
		}
	}()
	if err := json.Unmarshal(data, &rec); err != nil {
		return jobRecord{}, nil, fmt.Errorf("undecodable: %v", err)
	}
	switch rec.State {
	case JobMapping, JobReducing, JobWaiting:
		err = rec.Spec.Validate(apps)
	case JobDone, JobFailed, JobCancelled:
		err = rec.Spec.ValidateForm()
	default:
		err = fmt.Errorf("unknown state %.40q", rec.State)
	}
	switch {
	case err != nil:
		return jobRecord{}, nil, err
	case rec.Spec.ID != key:
		return jobRecord{}, nil, fmt.Errorf("stored under %s, the record names job %s", key, rec.Spec.ID)
	case rec.Owner != "" && !rpcq.ValidCaller(rec.Owner):
		return jobRecord{}, nil, fmt.Errorf("owner %.80q is not a user name", rec.Owner)
	}
	rec.Error = clip(rec.Error, maxErrorLen)
	return rec, rec.Spec.MapSplits(), nil
}

// quarantine sets aside the record under key, which could not be loaded
// for why: it moves to quarantine.<key>, with why, and the job is failed
// with "quarantined: <why>" in its status. If the move fails, the record
// stays where it is, and is set aside again when the master next starts.
func (m *Master) quarantine(ctx context.Context, key string, entry jetstream.KeyValueEntry, why error) {
	value := entry.Value()
	q := quarantineRecord{Key: key, Reason: clip(why.Error(), maxErrorLen), At: m.cfg.Clock().UnixNano(),
		Submitted: entry.Created().UnixNano(), Size: len(value), Record: value[:min(len(value), maxQuarantined)]}
	m.log.Warn("master: job record set aside: it cannot be loaded", "key", key, "aside", quarantinePrefix+key, "reason", q.Reason)
	data, _ := json.Marshal(q)
	if _, err := m.store.Jobs.Put(ctx, quarantinePrefix+key, data); err != nil {
		m.log.Warn("master: job record not set aside", "key", key, "error", err)
	} else if err := m.store.Jobs.Delete(ctx, key, jetstream.LastRevision(entry.Revision())); err != nil {
		m.log.Warn("master: job record set aside but not removed", "key", key, "error", err)
	}
	m.admitQuarantined(q, true)
}

// restoreQuarantined enters the job of a record set aside before.
func (m *Master) restoreQuarantined(ctx context.Context, aside string) error {
	entry, err := m.readJob(ctx, aside)
	if err != nil {
		return err
	}
	var q quarantineRecord
	if json.Unmarshal(entry.Value(), &q) != nil {
		q = quarantineRecord{Reason: "its quarantine record is undecodable too", Submitted: entry.Created().UnixNano()}
	}
	q.Key, q.Reason = strings.TrimPrefix(aside, quarantinePrefix), clip(q.Reason, maxErrorLen)
	m.admitQuarantined(q, false)
	return nil
}

// admitQuarantined enters a job whose record was set aside into the view,
// failed: in place of what the view has of it with replace, else only if
// the view has no job of its ID.
func (m *Master) admitQuarantined(q quarantineRecord, replace bool) {
	v := &jobView{rec: jobRecord{Spec: mr.JobSpec{ID: q.Key}, State: JobFailed, Error: "quarantined: " + q.Reason,
		Submitted: q.Submitted, Ended: q.At}, commits: map[TaskID]mr.Commit{}, quarantined: true}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.jobs[q.Key]; replace || !ok {
		m.jobs[q.Key] = v
	}
}

// known reports whether the master knows a job of this ID: quarantined
// ones included, so that their IDs are not taken again.
func (m *Master) known(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.jobs[id]
	return ok
}
