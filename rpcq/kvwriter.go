package rpcq

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// A KVTable writes a client's record one write at a time on each replica,
// and each write carries everything the client's calls asked of the
// record while the one before it was under way: the claims of calls that
// arrived, the replies of calls that finished, and the saved replies that
// duplicates asked for again. Calls in flight together so share writes
// (group commit) instead of failing each other's compare-and-swap.
//
// A claim is written at once, as its call waits for it. A reply, sent
// before it is saved, waits up to replyWriteDelay for a claim to share a
// write with: a client making one call at a time sends its next one in
// less, and its watermark then says it has the reply, so that the write
// claims the next call and saves nothing.

// recordBatch is what the next write of a client's record carries.
type recordBatch struct {
	ack     uint64
	seqs    []uint64 // calls to claim
	results []error  // for each of seqs: nil (claimed), errClaimed or errAcknowledged
	replies []pendingReply
	touched []uint64 // calls whose saved replies a duplicate asked for
	renew   bool     // write the record even if nothing changes, to keep it
	err     error    // the write failed: none of it was written
	done    chan struct{}

	// lazyUntil is when a batch of replies alone is written, if no claim
	// takes it first (see replyWriteDelay).
	lazyUntil time.Time
}

// ready reports whether b is to be written at now: it asks for more
// than saving replies, or its replies have waited long enough.
func (b *recordBatch) ready(now time.Time) bool {
	return len(b.seqs) > 0 || len(b.touched) > 0 || b.renew || !now.Before(b.lazyUntil)
}

// pendingReply is a finished call's reply waiting for a write.
type pendingReply struct {
	seq    uint64
	reply  Reply
	result error // nil (saved in the record), errSpilled or errAcknowledged
}

// replyWriteDelay is how long a reply waits for a claim to share a write
// with before it is written alone. It is far below a client's first
// resend (DefaultRetryInterval), which is the soonest a client that lost
// the reply asks for it.
const replyWriteDelay = 2 * time.Millisecond

// errSpilled means a reply did not fit in its client's record, and must
// be saved under a key of its own.
var errSpilled = errors.New("rpcq: reply does not fit in its client's record")

// clientWriter orders this replica's writes of one client's record: one
// at a time, each taking the batch that opened while the one before it
// was under way.
type clientWriter struct {
	open    *recordBatch // the batch the next write takes; guarded by KVTable.mu
	writing bool         // a write is under way, or about to be; guarded by KVTable.mu
}

// claim raises the client's watermark to ack and claims call seq (seq 0
// claims nothing).
func (t *KVTable) claim(ctx context.Context, cid clientID, ack, seq uint64, now time.Time) error {
	i, again := -1, false
	b := t.join(ctx, cid, now, false, func(b *recordBatch) {
		b.ack = max(b.ack, ack)
		b.renew = b.renew || seq == 0
		i = slices.Index(b.seqs, seq)
		again = i >= 0 // the same call arrived twice: only the first may run it
		if seq != 0 && !again {
			i = len(b.seqs)
			b.seqs = append(b.seqs, seq)
		}
	})
	switch {
	case b.err != nil:
		return b.err
	case seq == 0:
		return nil
	case again && b.results[i] == nil:
		return errClaimed
	default:
		return b.results[i]
	}
}

// save saves the reply of call seq in the client's record. It returns
// errSpilled if the record has no room for it, and errAcknowledged if
// nobody can ask for it any more.
func (t *KVTable) save(ctx context.Context, cid clientID, seq uint64, reply Reply) error {
	i := 0
	now := time.Now()
	b := t.join(ctx, cid, now, true, func(b *recordBatch) {
		i = len(b.replies)
		b.replies = append(b.replies, pendingReply{seq: seq, reply: reply})
		if b.lazyUntil.IsZero() {
			b.lazyUntil = now.Add(t.replyDelay)
		}
	})
	if b.err != nil {
		return b.err
	}
	return b.replies[i].result
}

// touch rewrites the saved reply of call seq in the client's record, so
// that it lasts another lease.
func (t *KVTable) touch(ctx context.Context, cid clientID, seq uint64, now time.Time) error {
	return t.join(ctx, cid, now, false, func(b *recordBatch) { b.touched = append(b.touched, seq) }).err
}

// join adds to the client's next batch with add, and returns the batch
// once a write has carried it. An arrival that finds no write under way
// writes its batch itself, unless it is lazy: a reply waits for a claim
// to take its batch, or until the batch's lazyUntil (see awaitWriter).
// If others opened a batch while a write was under way, a goroutine goes
// on writing batches while there are any ready, so that a write follows
// the one before it without waiting for one of the waiting callers to be
// woken.
func (t *KVTable) join(ctx context.Context, cid clientID, now time.Time, lazy bool, add func(*recordBatch)) *recordBatch {
	t.mu.Lock()
	w := t.writers[cid]
	if w == nil {
		w = &clientWriter{}
		t.writers[cid] = w
	}
	b := w.open
	if b == nil {
		b = &recordBatch{done: make(chan struct{})}
		w.open = b
	}
	add(b)
	write := !w.writing && !lazy
	if write {
		w.writing, w.open = true, nil
	}
	t.mu.Unlock()

	if lazy {
		write, now = t.awaitWriter(w, b), time.Now()
	}
	if write {
		t.writeBatch(ctx, cid, b, now)
		close(b.done)
		if next := t.nextBatch(w); next != nil {
			t.background.Go(func() { t.writeBatches(cid, w, next) })
		}
	}
	<-b.done
	return b
}

// awaitWriter waits until a write takes b, a batch of replies, or until
// b's lazyUntil, and reports whether it is then for the caller to write b:
// no write has taken it and none is under way. A write under way when b's
// wait ends takes b next (see nextBatch).
func (t *KVTable) awaitWriter(w *clientWriter, b *recordBatch) bool {
	t.mu.Lock()
	until := b.lazyUntil
	t.mu.Unlock()
	timer := time.NewTimer(time.Until(until))
	defer timer.Stop()
	select {
	case <-b.done:
		return false
	case <-timer.C:
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if w.open != b || w.writing {
		return false
	}
	w.writing, w.open = true, nil
	return true
}

// nextBatch takes the batch that opened while a write was under way if it
// is ready, or else ends the writes, leaving a batch of replies that is
// not ready open for a claim or its own waiters to write.
func (t *KVTable) nextBatch(w *clientWriter) *recordBatch {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := w.open
	if b != nil && !b.ready(time.Now()) {
		b = nil
	} else {
		w.open = nil
	}
	w.writing = b != nil
	return b
}

// writeBatches writes b, then each batch that opens meanwhile.
func (t *KVTable) writeBatches(cid clientID, w *clientWriter, b *recordBatch) {
	for ; b != nil; b = t.nextBatch(w) {
		t.writeBatch(context.Background(), cid, b, time.Now())
		close(b.done)
	}
}

// writeBatch writes the client's record with b by compare-and-swap,
// rereading the record when another replica wrote it meanwhile, and sets
// b's outcomes.
func (t *KVTable) writeBatch(ctx context.Context, cid clientID, b *recordBatch, now time.Time) {
	// Bounded on its own: the batch is every arrival's, not only this
	// one's, whose caller may give up first.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	key := t.clientKey(cid)
	b.results = make([]error, len(b.seqs))
	for fresh := false; ; fresh = true {
		c, known, err := t.client(ctx, cid, now, fresh)
		if err != nil {
			b.err = err
			return
		}
		if !known && !mayBeNew(cid.born, t.since, now, t.lease) {
			b.err = errAcknowledged // expired meanwhile: refuse the calls
			return
		}
		ack := max(c.rec.Ack, b.ack)
		var seqs []uint64
		for i, seq := range b.seqs {
			switch {
			case seq <= ack:
				b.results[i] = errAcknowledged
			case c.rec.claimed(seq):
				b.results[i] = errClaimed
			default:
				b.results[i] = nil
				seqs = append(seqs, seq)
			}
		}
		rec := c.rec.with(ack, seqs, unixMilliUp(now))
		saved := t.addReplies(&rec, b, ack)
		if known && !b.renew && len(seqs) == 0 && ack == c.rec.Ack && !saved {
			// Nothing to write: the calls were claimed already, or the
			// replies are acknowledged (the client's next call, claimed
			// before its last reply joined a batch, says it has it).
			return
		}
		data, err := Msgpack.Marshal(rec)
		if err != nil {
			b.err = err
			return
		}
		var rev uint64
		if known {
			rev, err = t.kv.Update(ctx, key, data, c.rev)
		} else {
			rev, err = t.kv.Create(ctx, key, data)
		}
		if conflict(err) {
			continue // written by another replica, or expired: reread it
		}
		if err != nil {
			b.err = fmt.Errorf("write client %s: %w", cid, err)
			return
		}
		t.mu.Lock()
		t.clients[cid] = knownClient{rec: rec, rev: rev, written: now, used: now}
		t.mu.Unlock()
		return
	}
}

// addReplies puts in rec, whose watermark is ack, the replies of b that
// fit, and the times of the saved replies b asked for; it drops the
// saved replies that have expired. It reports whether it saved or
// touched any.
func (t *KVTable) addReplies(rec *clientRecord, b *recordBatch, ack uint64) (saved bool) {
	saved = len(b.touched) > 0
	if len(rec.Saved) == 0 && len(b.replies) == 0 {
		return saved
	}
	at := unixMilliUp(time.Now()) // read here: a write may have waited for its turn
	rec.expire(at - t.lease.Milliseconds())
	rec.touch(b.touched, at)
	size := rec.size()
	for i := range b.replies {
		p := &b.replies[i]
		switch n := savedSize(p.reply); {
		case p.seq <= ack:
			p.result = errAcknowledged
		case size+n > clientRecordMax:
			p.result = errSpilled
		default:
			rec.save(p.seq, p.reply, at)
			size += n
			p.result = nil
			saved = true
		}
	}
	return saved
}

// unixMilliUp is t in Unix milliseconds, rounded up, so that a claim or a
// saved reply never looks older than it is.
func unixMilliUp(t time.Time) int64 {
	return (t.UnixNano() + int64(time.Millisecond) - 1) / int64(time.Millisecond)
}
