package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// markerTTL is how long the task bucket keeps the marker of a record that
// expired, so that a watcher (Wait) that was away a moment still learns.
const markerTTL = time.Minute

// groupValueSize bounds a message of the groups bucket: its keys carry
// no value, but a delete marker's header counts too.
const groupValueSize = 128

// errConflict means a compare-and-set write lost: the record changed
// since it was read.
var errConflict = errors.New("tasks: record changed meanwhile")

// StoreConfig says how the task queue's streams and buckets are created
// when they are missing; what exists is used as it is. Zero fields take
// their defaults.
type StoreConfig struct {
	// Replicas of every stream and bucket: 1 on one server (the default),
	// 3 on a cluster.
	Replicas int
	// Storage is where they live (default jetstream.FileStorage).
	Storage jetstream.StorageType
}

// store is the task queue's JetStream resources and the writes the shell
// makes to them.
type store struct {
	js     jetstream.JetStream
	queue  jetstream.Stream
	tasks  jetstream.KeyValue
	groups jetstream.KeyValue
	// groupStream is the stream under groups, for its last revisions.
	groupStream jetstream.Stream
}

// openStore opens the resources, creating those that are missing.
func openStore(ctx context.Context, js jetstream.JetStream, cfg StoreConfig) (*store, error) {
	replicas := max(cfg.Replicas, 1)
	s := &store{js: js}
	var err error
	if s.queue, err = ensure(ctx, StreamQueue,
		func() (jetstream.Stream, error) { return js.Stream(ctx, StreamQueue) },
		func() (jetstream.Stream, error) {
			return js.CreateStream(ctx, jetstream.StreamConfig{
				Name:        StreamQueue,
				Description: "Drover task queue",
				Subjects:    []string{StreamSubjects()},
				Retention:   jetstream.WorkQueuePolicy,
				Storage:     cfg.Storage,
				Replicas:    replicas,
			})
		}); err != nil {
		return nil, err
	}
	if s.tasks, err = ensure(ctx, BucketTasks,
		func() (jetstream.KeyValue, error) { return js.KeyValue(ctx, BucketTasks) },
		func() (jetstream.KeyValue, error) {
			return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: BucketTasks, Description: "Drover task records",
				MaxValueSize: MaxRecordSize, LimitMarkerTTL: markerTTL,
				Storage: cfg.Storage, Replicas: replicas,
			})
		}); err != nil {
		return nil, err
	}
	if s.groups, err = ensure(ctx, BucketGroups,
		func() (jetstream.KeyValue, error) { return js.KeyValue(ctx, BucketGroups) },
		func() (jetstream.KeyValue, error) {
			return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: BucketGroups, Description: "Drover open tasks of each group",
				MaxValueSize: groupValueSize, Storage: cfg.Storage, Replicas: replicas,
			})
		}); err != nil {
		return nil, err
	}
	if s.groupStream, err = js.Stream(ctx, "KV_"+BucketGroups); err != nil {
		return nil, fmt.Errorf("tasks: %s: %w", BucketGroups, err)
	}
	return s, nil
}

// Ensure opens the task queue's streams and buckets, periodic tasks' own
// included, creating those that are missing: what a master does at its
// start, so that under NATS permissions only it needs the right to
// create streams (see package auth).
func Ensure(ctx context.Context, js jetstream.JetStream, cfg StoreConfig) error {
	if _, err := openStore(ctx, js, cfg); err != nil {
		return err
	}
	_, err := openSchedules(ctx, js, cfg)
	return err
}

// ensure opens a resource, or creates it if it is missing; if another
// process created it meanwhile, it opens that one.
func ensure[T any](ctx context.Context, name string, open, create func() (T, error)) (T, error) {
	v, err := open()
	if err == nil {
		return v, nil
	}
	if v, err = create(); err == nil {
		return v, nil
	}
	if v, oerr := open(); oerr == nil {
		return v, nil
	}
	return v, fmt.Errorf("tasks: %s: %w", name, err)
}

// get reads task id's record and its revision.
func (s *store) get(ctx context.Context, id string) (record, uint64, error) {
	e, err := s.tasks.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return record{}, 0, ErrTaskNotFound
	}
	if err != nil {
		return record{}, 0, fmt.Errorf("tasks: get %s: %w", id, err)
	}
	r, err := decodeRecord(e.Value())
	if err == nil && r.ID != id {
		err = fmt.Errorf("%w: record of %.140q under key %s", ErrInvalidTask, r.ID, id)
	}
	return r, e.Revision(), err
}

// create stores a new record, r encoded (data); jetstream.ErrKeyExists if
// its ID is taken.
func (s *store) create(ctx context.Context, r record, data []byte) (uint64, error) {
	return s.tasks.Create(ctx, r.ID, data)
}

// update replaces the record at revision rev with r, and sets how long the
// broker keeps it (ttl); errConflict if the record changed since rev.
// It publishes to the bucket's subject as KeyValue.Update does, adding
// the per-message TTL that Update cannot set.
func (s *store) update(ctx context.Context, r record, rev uint64) (uint64, error) {
	opts := []jetstream.PublishOpt{jetstream.WithExpectLastSequencePerSubject(rev)}
	if d := ttl(r); d > 0 {
		opts = append(opts, jetstream.WithMsgTTL(d))
	}
	ack, err := s.js.PublishMsg(ctx, &nats.Msg{Subject: "$KV." + BucketTasks + "." + r.ID, Data: r.encode()}, opts...)
	if isWrongLastSeq(err) {
		return 0, errConflict
	}
	if err != nil {
		return 0, fmt.Errorf("tasks: update %s: %w", r.ID, err)
	}
	return ack.Sequence, nil
}

// remove deletes task id's record if it is still at revision rev.
func (s *store) remove(ctx context.Context, id string, rev uint64) error {
	err := s.tasks.Delete(ctx, id, jetstream.LastRevision(rev))
	if isWrongLastSeq(err) {
		return errConflict
	}
	return err
}

func isWrongLastSeq(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}

// publish puts the message of r's run in its queue and returns its stream
// sequence. Its ID is the run's, so that a publish retried within the
// stream's duplicate window is stored once. It names r's group too
// (HeaderGroup), for the worker that finds the record deleted to close
// the run's place in it. If cp is not nil, it is r as stored at revision
// rev (copyOf), and goes in the message (HeaderRecord,
// HeaderRevision).
func (s *store) publish(ctx context.Context, r record, cp []byte, rev uint64) (uint64, error) {
	m := &nats.Msg{Subject: QueueSubject(r.Queue, r.ID), Data: []byte(r.Run), Header: nats.Header{}}
	if r.Group != "" {
		m.Header.Set(HeaderGroup, r.Group)
	}
	if cp != nil && rev != 0 {
		m.Header.Set(HeaderRecord, string(cp))
		m.Header.Set(HeaderRevision, strconv.FormatUint(rev, 10))
	}
	ack, err := s.js.PublishMsg(ctx, m, jetstream.WithMsgID(msgID(r.ID, r.Run)))
	if err != nil {
		return 0, fmt.Errorf("tasks: publish %s: %w", r.ID, err)
	}
	return ack.Sequence, nil
}

// copyOf is a record's encoding data as its message's copy
// (HeaderRecord), or nil if it is larger than maxRecordCopy.
func copyOf(data []byte) []byte {
	if len(data) <= maxRecordCopy {
		return data
	}
	return nil
}

// unpublish removes the queue message at stream sequence seq, if it is
// still there.
func (s *store) unpublish(ctx context.Context, seq uint64) error {
	err := s.queue.DeleteMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) || errors.Is(err, jetstream.ErrMsgDeleteUnsuccessful) {
		return nil
	}
	return err
}

// withdraw removes r's message from its queue, if it is there.
func (s *store) withdraw(ctx context.Context, r record) error {
	return s.queue.Purge(ctx, jetstream.WithPurgeSubject(QueueSubject(r.Queue, r.ID)))
}

// openGroup records r as an open task of its group, if it has one. The
// key holds r's run, so that a worker closing an earlier run's place
// cannot close this one's.
func (s *store) openGroup(ctx context.Context, r record) error {
	if r.Group == "" {
		return nil
	}
	if _, err := s.groups.Put(ctx, GroupKey(r.Group, r.ID), []byte(r.Run)); err != nil {
		return fmt.Errorf("tasks: open %s in group %s: %w", r.ID, r.Group, err)
	}
	return nil
}

// joinGroup records r as an open task of its group, if it has one and
// its place is missing; opened reports whether it was.
func (s *store) joinGroup(ctx context.Context, r record) (opened bool, err error) {
	if r.Group == "" {
		return false, nil
	}
	_, err = s.groups.Create(ctx, GroupKey(r.Group, r.ID), []byte(r.Run))
	if errors.Is(err, jetstream.ErrKeyExists) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("tasks: open %s in group %s: %w", r.ID, r.Group, err)
	}
	return true, nil
}

// closeGroup records that r's run is no longer open in its group. It is
// idempotent, so every process that finds r ended may call it, and it
// leaves alone the place of a later run of the task (a Rerun): it
// deletes the key only while it holds r's run, compare-and-set.
func (s *store) closeGroup(ctx context.Context, r record) error {
	if r.Group == "" {
		return nil
	}
	key := GroupKey(r.Group, r.ID)
	for range maxCASTries {
		e, err := s.groups.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tasks: close %s in group %s: %w", r.ID, r.Group, err)
		}
		if string(e.Value()) != r.Run {
			return nil
		}
		err = s.groups.Delete(ctx, key, jetstream.LastRevision(e.Revision()))
		if !isWrongLastSeq(err) {
			if err != nil {
				return fmt.Errorf("tasks: close %s in group %s: %w", r.ID, r.Group, err)
			}
			return nil
		}
	}
	return fmt.Errorf("tasks: close %s in group %s: %w", r.ID, r.Group, errConflict)
}

// scan calls fn with every valid record of the bucket, read in one watch;
// an invalid one is logged and skipped.
func (s *store) scan(ctx context.Context, log *slog.Logger, fn func(record)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.tasks.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return fmt.Errorf("tasks: scan: %w", err)
	}
	defer w.Stop()
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e, ok = <-w.Updates():
		}
		if !ok {
			return errors.New("tasks: scan: watch stopped")
		}
		if e == nil {
			return nil
		}
		r, err := decodeRecord(e.Value())
		if err != nil {
			log.Warn("tasks: invalid record skipped", "key", e.Key(), "error", err)
			continue
		}
		fn(r)
	}
}

// hasMessage reports whether r's queue holds a message on r's subject.
func (s *store) hasMessage(ctx context.Context, r record) (bool, error) {
	_, err := s.queue.GetLastMsgForSubject(ctx, QueueSubject(r.Queue, r.ID))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return false, nil
	}
	return err == nil, err
}

// lastGroupRevision is the revision of the last write to any key of
// group, 0 if there was none.
func (s *store) lastGroupRevision(ctx context.Context, group string) (uint64, error) {
	m, err := s.groupStream.GetLastMsgForSubject(ctx, "$KV."+BucketGroups+"."+GroupKeys(group))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("tasks: group %s: %w", group, err)
	}
	return m.Sequence, nil
}
