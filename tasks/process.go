package tasks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// transientRetry is how long a message waits before it is delivered
// again after NATS or JetStream failed to answer.
const transientRetry = time.Second

// Why an attempt's context ended, besides its timeout and deadline.
var (
	// errShutdown: the server is stopping; the task is handed back.
	errShutdown = errors.New("tasks: server stopping")
	// errStopped: the record changed under the attempt: the task was
	// cancelled, deleted or taken over after a lost lease.
	errStopped = errors.New("tasks: task cancelled, deleted or taken over")
	// errHeartbeat: no heartbeat got through for a whole lease, so the
	// task may already run elsewhere.
	errHeartbeat = errors.New("tasks: heartbeats lost for a lease")
)

// attempt is a running attempt, as the cancel notices find it.
type attempt struct {
	poke chan struct{} // a notice came: read the record now
}

// handle takes one message to its end: run, handed back to wait, or
// dropped. Whatever the message says, it is only a pointer to a record:
// the record decides. A message an Enqueue published carries a copy of
// the record as created (copied), from which a worker claims the task
// without reading the record: the claim is a compare-and-set on the
// copy's revision, which fails if the record changed since, and the
// record is then read. Any other step (wait, drop, archive) reads the
// record first.
//
// A task it runs is recorded done (or failed) after handle returns: the
// returned channel closes once it is, or is nil when nothing is left to
// record. The slot pulls its next task meanwhile, and, for a message
// without a copy, handle reads that task's record, overlapping these
// round trips with the last task's write (prev); handle waits for prev
// before it claims the task, and in any case before it returns, so that
// a slot never runs a handler before its last task is recorded, nor has
// more than one outcome being recorded. The early read is no risk: a
// record read is always possibly stale, and the claim is a
// compare-and-set on the read's revision.
func (s *Server) handle(ctx context.Context, st *store, msg jetstream.Msg, prev <-chan struct{}) (recorded <-chan struct{}) {
	defer waitRecorded(prev)
	queue, id, ok := parseQueueSubject(msg.Subject())
	run := string(msg.Data()[:min(len(msg.Data()), MaxRunLen+1)])
	if !ok || !validName(run, MaxRunLen) {
		s.log.Error("tasks: invalid message dropped", "subject", truncate(msg.Subject(), 300))
		msg.TermWithReason("invalid task message")
		return nil
	}
	var seq uint64
	first := false
	if meta, err := msg.Metadata(); err == nil {
		seq, first = meta.Sequence.Stream, meta.NumDelivered == 1
	}
	ioCtx, cancel := context.WithTimeout(context.Background(), ioTimeout)
	defer cancel()
	log := func() *slog.Logger { return s.log.With("task", id) } // made only if something is said
	fromCopy := false
	for try := range maxCASTries {
		var r record
		var rev uint64
		var err error
		if try == 0 {
			r, rev, fromCopy = copied(msg, id, queue, run)
		}
		if !fromCopy {
			r, rev, err = st.get(ioCtx, id)
		}
		if errors.Is(err, ErrTaskNotFound) && try == 0 && first {
			if r, rev, err = s.getUnborn(ioCtx, st, id); errors.Is(err, ErrTaskNotFound) {
				msg.NakWithDelay(transientRetry) // deleted, or its producer is slow: look again later
				return nil
			}
		}
		switch {
		case errors.Is(err, ErrTaskNotFound): // deleted
			if g := msg.Headers().Get(HeaderGroup); validName(g, MaxQueueLen) {
				s.close(ioCtx, st, record{ID: id, Group: g, Run: run, State: StateArchived}, msg)
				return nil
			}
			msg.Ack()
			return nil
		case errors.Is(err, ErrInvalidTask):
			log().Error("tasks: invalid record; its message dropped", "error", err)
			msg.TermWithReason("invalid task record")
			return nil
		case err != nil:
			log().Warn("tasks: read record; message handed back", "error", err)
			msg.NakWithDelay(transientRetry)
			return nil
		case r.Queue != queue:
			log().Error("tasks: message in a queue not its task's dropped", "queue", queue)
			msg.TermWithReason("task of another queue")
			return nil
		}
		if s.isCopy(ioCtx, st, r, run, seq) {
			log().Warn("tasks: a copy of the message of a claimed run dropped")
			msg.Ack()
			return nil
		}
		now := s.cfg.Clock()
		v, wait, why := admit(r, run, now)
		if fromCopy && v != verdictRun {
			fromCopy = false // only a claim, a compare-and-set, may rest on the copy
			continue
		}
		switch v {
		case verdictDrop:
			s.close(ioCtx, st, r, msg)
			return nil
		case verdictWait:
			msg.NakWithDelay(wait)
			return nil
		case verdictArchive:
			next := archivedFor(r, why, now)
			if _, err := st.update(ioCtx, next, rev); errors.Is(err, errConflict) {
				continue
			} else if err != nil {
				log().Warn("tasks: archive; message handed back", "error", err)
				msg.NakWithDelay(transientRetry)
				return nil
			}
			log().Warn("tasks: task archived", "why", why)
			s.close(ioCtx, st, next, msg)
			return nil
		case verdictRun:
			waitRecorded(prev)
			now = s.cfg.Clock()
			next := started(r, s.cfg.ID, seq, now)
			rev, err := st.update(ioCtx, next, rev)
			if errors.Is(err, errConflict) {
				fromCopy = false
				continue
			} else if err != nil {
				log().Warn("tasks: claim; message handed back", "error", err)
				msg.NakWithDelay(transientRetry)
				return nil
			}
			cancel()
			return s.execute(ctx, st, msg, next, rev)
		}
	}
	msg.NakWithDelay(transientRetry)
	return nil
}

// copied is the copy of its record that msg carries (HeaderRecord) and the
// revision it was stored at, if msg has one and it is a valid record of
// task id, of queue and run; ok is false otherwise. The copy can be stale,
// so only the claim may use it: the claim's compare-and-set at rev fails
// if the record changed since.
func copied(msg jetstream.Msg, id, queue, run string) (r record, rev uint64, ok bool) {
	h := msg.Headers()
	data, revText := h.Get(HeaderRecord), h.Get(HeaderRevision)
	if data == "" || len(data) > maxRecordCopy || len(revText) > 20 {
		return record{}, 0, false
	}
	rev, err := strconv.ParseUint(revText, 10, 64)
	if err != nil || rev == 0 {
		return record{}, 0, false
	}
	r, err = decodeRecord([]byte(data))
	if err != nil || r.ID != id || r.Queue != queue || r.Run != run {
		return record{}, 0, false
	}
	return r, rev, true
}

// unbornWaits are the pauses before each new read of the record of a
// message delivered for the first time and found with none: the
// producer of a task whose record is too large to copy into its message
// publishes the message as it creates the record (createPublishing), as
// producers of earlier versions did for every task, and the broker may
// store the message first, by microseconds, as it did for about one task
// in ten in an idle pool on a loaded machine. The first read again is at
// once: its round trip is usually wait enough.
var unbornWaits = []time.Duration{0, time.Millisecond, 4 * time.Millisecond, 16 * time.Millisecond}

// getUnborn reads task id's record again after each of unbornWaits,
// until it is there.
func (s *Server) getUnborn(ctx context.Context, st *store, id string) (r record, rev uint64, err error) {
	for _, d := range unbornWaits {
		if d > 0 {
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				return r, rev, ctx.Err()
			case <-t.C:
			}
		}
		if r, rev, err = st.get(ctx, id); !errors.Is(err, ErrTaskNotFound) {
			return r, rev, err
		}
	}
	return r, rev, err
}

// isCopy reports whether the message at seq, of run, is a copy of the one
// that claimed run, which is still in the queue: only that one may run
// the task, or two workers would.
func (s *Server) isCopy(ctx context.Context, st *store, r record, run string, seq uint64) bool {
	if r.Run != run || r.Seq == 0 || seq == 0 || r.Seq == seq || r.State.terminal() {
		return false
	}
	_, err := st.queue.GetMsg(ctx, r.Seq)
	return err == nil
}

// close acks the message of a task that has ended (or of a run that is
// not the task's), first closing an ended task's group place: the ack
// comes last, so that a worker dying before it leaves the message to be
// delivered again, and its next worker closes the place.
func (s *Server) close(ctx context.Context, st *store, r record, msg jetstream.Msg) {
	if r.State.terminal() {
		if err := st.closeGroup(ctx, r); err != nil {
			s.log.Warn("tasks: close group place; message handed back", "task", r.ID, "error", err)
			msg.NakWithDelay(transientRetry)
			return
		}
	}
	// The ack is not waited for: the record says the run is over, so a
	// lost ack only brings the message to a worker that finds it so and
	// acks again. Waiting would cost each slot a round trip per task.
	if err := msg.Ack(); err != nil {
		s.log.Warn("tasks: ack", "task", r.ID, "error", err)
	}
}

// execute runs the claimed task r (stored at revision rev), then records
// its outcome in the background; the channel closes once it is recorded.
func (s *Server) execute(ctx context.Context, st *store, msg jetstream.Msg, r record, rev uint64) <-chan struct{} {
	a := &attempt{poke: make(chan struct{}, 1)}
	s.mu.Lock()
	s.running[r.ID] = a
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		if s.running[r.ID] == a {
			delete(s.running, r.ID)
		}
		s.mu.Unlock()
	}()

	// The attempt's context ends with the server's, but with a cause of
	// its own, so that a task handed back is told from one that failed.
	runCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancel(nil)
	stopShutdown := context.AfterFunc(ctx, func() { cancel(errShutdown) })
	defer stopShutdown()
	hctx, cancelTimeout := context.WithTimeout(runCtx, time.Duration(r.Timeout))
	defer cancelTimeout()
	if r.Deadline != 0 {
		var cancelDeadline context.CancelFunc
		hctx, cancelDeadline = context.WithDeadline(hctx, time.Unix(0, r.Deadline))
		defer cancelDeadline()
	}
	stopBeat := s.heartbeat(st, msg, r.ID, rev, a, cancel)
	result, err := s.call(hctx, r)
	stopBeat()
	cause := context.Cause(runCtx)

	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		s.record(st, msg, r, rev, result, err, cause)
	}()
	return recorded
}

// record writes the outcome of an attempt of r, which was claimed at
// revision rev, and acks or hands back its message: result and err are
// the handler's, cause why the attempt's context ended (nil if it did
// not).
func (s *Server) record(st *store, msg jetstream.Msg, r record, rev uint64, result []byte, err error, cause error) {
	log := s.log.With("task", r.ID, "attempt", r.Attempt)
	now := s.cfg.Clock()
	ioCtx, cancelIO := context.WithTimeout(context.Background(), ioTimeout)
	defer cancelIO()
	switch {
	case errors.Is(cause, errShutdown):
		if _, err := st.update(ioCtx, handedBack(r), rev); err != nil {
			log.Warn("tasks: hand back; it runs again after its lease", "error", err)
			return
		}
		msg.Nak()
		log.Info("tasks: task handed back")
		return
	case cause != nil:
		log.Info("tasks: attempt stopped", "why", cause)
		s.settle(ioCtx, st, msg, r)
		return
	}
	var next record
	if err == nil {
		next = succeeded(r, result, now)
	} else {
		next = failed(r, err.Error(), errors.Is(err, ErrSkipRetry), now, s.cfg.Backoff, rand.Float64())
	}
	if _, uerr := st.update(ioCtx, next, rev); errors.Is(uerr, errConflict) {
		s.settle(ioCtx, st, msg, r) // cancelled or deleted as it ended
		return
	} else if uerr != nil {
		log.Warn("tasks: outcome not recorded; the task runs again after its lease", "error", uerr)
		return
	}
	switch next.State {
	case StateRetrying:
		log.Info("tasks: attempt failed; retrying", "error", err, "retry", next.Retried, "at", time.Unix(0, next.ProcessAt))
		msg.NakWithDelay(time.Duration(next.ProcessAt - now.UnixNano()))
	case StateArchived:
		log.Warn("tasks: task archived", "error", err)
		s.close(ioCtx, st, next, msg)
	default:
		s.close(ioCtx, st, next, msg)
	}
}

// call runs r's handler, turning a panic into an error and the result
// into its encoding.
func (s *Server) call(ctx context.Context, r record) (result []byte, err error) {
	h := s.handler(r.Type)
	if h == nil {
		return nil, fmt.Errorf("%w %.100q", ErrNoHandler, r.Type)
	}
	defer func() {
		if p := recover(); p != nil {
			result, err = nil, fmt.Errorf("tasks: handler panic: %v", p)
		}
	}()
	ti := r.info(s.cfg.Clock())
	v, err := h(ctx, ti)
	if err != nil || v == nil {
		return nil, err
	}
	data, err := ti.codec().Marshal(v)
	if err != nil {
		return nil, SkipRetry(fmt.Errorf("encode result: %w", err))
	}
	if len(data) > MaxResultSize {
		return nil, SkipRetry(fmt.Errorf("result of %d bytes: at most %d", len(data), MaxResultSize))
	}
	return data, nil
}

// settle ends an attempt whose record changed under it (r is the record
// it ran): a task cancelled (archived) or deleted leaves the queue and its
// group; one taken over by another attempt is that attempt's now.
func (s *Server) settle(ctx context.Context, st *store, msg jetstream.Msg, r record) {
	cur, _, err := st.get(ctx, r.ID)
	switch {
	case errors.Is(err, ErrTaskNotFound):
		r.State = StateArchived // deleted: its group place goes too
		s.close(ctx, st, r, msg)
	case err != nil:
		s.log.Warn("tasks: read record after a stopped attempt; left to its lease", "task", r.ID, "error", err)
	case cur.Run == r.Run && cur.Attempt == r.Attempt && cur.State.terminal():
		s.close(ctx, st, cur, msg)
	}
}

// heartbeat keeps the task's message with this server (InProgress) every
// third of the lease, and reads the task's record then and whenever a
// cancel notice pokes it: if the record moved past rev (the task was
// cancelled, deleted or taken over), or no heartbeat got through for a
// lease, it stops the attempt.
func (s *Server) heartbeat(st *store, msg jetstream.Msg, id string, rev uint64, a *attempt, stop context.CancelCauseFunc) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(s.cfg.Lease / 3)
		defer tick.Stop()
		lastOK := time.Now()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				msg.InProgress()
			case <-a.poke:
			}
			// InProgress is not answered, and a connection that is
			// reconnecting buffers it without error: a read of the record
			// is what proves the bus answers.
			cctx, ccancel := context.WithTimeout(ctx, s.cfg.Lease/3)
			_, cur, err := st.get(cctx, id)
			ccancel()
			if err == nil || errors.Is(err, ErrTaskNotFound) {
				lastOK = time.Now()
			}
			switch {
			case errors.Is(err, ErrTaskNotFound) || err == nil && cur != rev:
				stop(errStopped)
				return
			case time.Since(lastOK) >= s.cfg.Lease:
				stop(errHeartbeat)
				return
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}
