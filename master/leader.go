package master

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
)

// DefaultLeaderTTL is how long a master's leadership lasts unless renewed.
const DefaultLeaderTTL = 5 * time.Second

// leaderKey is the leader lease's key in the jobs bucket. It holds a dot,
// which no job ID does.
const leaderKey = "master.leader"

// leaseRecord is the leader lease: who holds it, and for how long each
// renewal lasts. Expiry is judged by each master on its own clock, from
// how long the record has gone unchanged, so that masters need not agree
// on the time.
type leaseRecord struct {
	Holder string        `json:"holder"`
	TTL    time.Duration `json:"ttl"`
}

// lease is one master's hold on the leader lease. It is taken with a KV
// create, or over a holder whose record has not changed for a whole TTL
// with a compare-and-set, and renewed by compare-and-set: two masters can
// never both hold it.
type lease struct {
	kv     jetstream.KeyValue
	holder string
	ttl    time.Duration
	rev    uint64 // of our last write, while we hold it

	// A standby's view of another holder's record: the revision it last
	// saw and when it first saw it, by its own clock.
	seenRev uint64
	seenAt  time.Time
}

// takeoverMargin is how much longer than a TTL a standby waits, after it
// first saw the holder's last renewal, before it takes the lease: its
// clock was read before that read was sent, maybe before the renewal was,
// and the holder's own expiry, a TTL after it sent the renewal, reaches
// its goroutines a moment late.
func takeoverMargin(ttl time.Duration) time.Duration { return ttl / 4 }

// acquire takes the lease if it is free, ours, or unchanged for a whole
// TTL and a takeover margin since this master first saw it, by its clock
// read at now, before the read: its holder has stopped renewing.
func (l *lease) acquire(ctx context.Context, now time.Time) (bool, error) {
	rec, _ := json.Marshal(leaseRecord{Holder: l.holder, TTL: l.ttl})
	entry, err := l.kv.Get(ctx, leaderKey)
	switch {
	case errors.Is(err, jetstream.ErrKeyNotFound):
		rev, err := l.kv.Create(ctx, leaderKey, rec)
		if errors.Is(err, jetstream.ErrKeyExists) {
			return false, nil // another master was quicker
		}
		l.rev = rev
		return err == nil, err
	case err != nil:
		return false, err
	}
	var cur leaseRecord
	if json.Unmarshal(entry.Value(), &cur) == nil && cur.Holder != l.holder {
		if entry.Revision() != l.seenRev {
			l.seenRev, l.seenAt = entry.Revision(), now
			return false, nil
		}
		if ttl := max(cur.TTL, l.ttl); now.Sub(l.seenAt) < ttl+takeoverMargin(ttl) {
			return false, nil
		}
	}
	rev, err := l.kv.Update(ctx, leaderKey, rec, entry.Revision())
	if taken(err) {
		return false, nil
	}
	l.rev = rev
	return err == nil, err
}

// taken reports whether a lease write failed because another master wrote
// or removed it first.
func taken(err error) bool {
	return errors.Is(err, jetstream.ErrKeyRevisionMismatch) || errors.Is(err, jetstream.ErrKeyNotFound)
}

// renew extends the lease; an error means it is no longer ours.
//
// A renewal whose answer was lost (a time-out while the write went
// through, under load or in a leader election) leaves the record one
// revision past the one this master knows, and the next renewal fails
// its compare-and-set. The record then still names this master, which
// alone writes its holder: its revision is taken, and the renewal tried
// again on it.
func (l *lease) renew(ctx context.Context) error {
	rec, _ := json.Marshal(leaseRecord{Holder: l.holder, TTL: l.ttl})
	rev, err := l.kv.Update(ctx, leaderKey, rec, l.rev)
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) {
		if entry, gerr := l.kv.Get(ctx, leaderKey); gerr == nil && entry.Revision() > l.rev {
			var cur leaseRecord
			if json.Unmarshal(entry.Value(), &cur) == nil && cur.Holder == l.holder {
				rev, err = l.kv.Update(ctx, leaderKey, rec, entry.Revision())
			}
		}
	}
	if err != nil {
		return fmt.Errorf("master: leadership lost: %w", err)
	}
	l.rev = rev
	return nil
}

// release gives the lease up, if it is still ours.
func (l *lease) release(ctx context.Context) {
	l.kv.Delete(ctx, leaderKey, jetstream.LastRevision(l.rev))
}

// RunLeader runs a master whenever this process holds the leader lease,
// and waits as a standby when another does, until ctx ends. Several
// masters may run it on one deployment: one leads, and when it dies (its
// lease expires) a standby takes over, rebuilding the state from the
// buckets and streams. While it stands by, it answers as
// mr.MasterStandbyService. newMaster makes a fresh Master for each term.
func RunLeader(ctx context.Context, store *mr.Store, holder string, ttl time.Duration, log *slog.Logger, newMaster func() (*Master, error)) error {
	if ttl <= 0 {
		ttl = DefaultLeaderTTL
	}
	l := &lease{kv: store.Jobs, holder: holder, ttl: ttl}
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	sb := &standby{nc: store.JS.Conn(), log: log}
	defer sb.off()
	for {
		sent := time.Now() // before the lease's write
		ok, err := l.acquire(ctx, sent)
		if err != nil && ctx.Err() == nil {
			log.Warn("master: leader lease", "error", err)
		}
		if ok {
			sb.off()
			log.Info("master: leading", "holder", holder)
			if err := lead(ctx, l, sent, tick, log, newMaster); err != nil {
				return err
			}
			if ctx.Err() != nil {
				release, cancel := context.WithTimeout(context.Background(), time.Second)
				l.release(release)
				cancel()
				return nil
			}
			log.Warn("master: no longer leading; standing by")
		}
		sb.on()
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// lead runs a master for as long as the lease is renewed. A standby takes
// over no sooner than a TTL and a margin after it saw the last renewal,
// which was written after it was sent: a leader stops once a TTL has
// passed since it sent its last successful renewal, or the write that
// took the lease (sent), before any standby can lead. A renewal that
// fails for want of the broker is retried meanwhile.
//
// A master whose start fails because JetStream does not answer for a
// moment (mr.Retryable: a cluster electing leaders, a node rejoining
// after a partition), or answers from a replica behind (ErrUnread), is
// started again, a fresh one, while the lease is still ours: giving the
// lease up would only hand the same moment to the other master, and the
// two would pass the lease back and forth. A master that stops on its
// own for any other reason gives the lease up and stands by: the process
// never exits for what the bus does. Only newMaster's error, which no
// retry mends, is returned.
func lead(ctx context.Context, l *lease, sent time.Time, tick *time.Ticker, log *slog.Logger, newMaster func() (*Master, error)) error {
	term, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	start := func() error {
		m, err := newMaster()
		if err != nil {
			return err
		}
		go func() { done <- m.Run(term) }()
		return nil
	}
	if err := start(); err != nil {
		return err
	}
	// The lease ends a TTL after the write that took it, or the last
	// renewal that passed, was sent. The expiry is judged before
	// anything else the loop does, and no renewal runs past it: select
	// picks at random among ready cases, and renewals one after another
	// would otherwise keep the master acting past its lease.
	deadline := sent.Add(l.ttl)
	expired := func() bool { return !time.Now().Before(deadline) }
	expiry := time.NewTimer(time.Until(deadline))
	defer expiry.Stop()
	var again <-chan time.Time // the next start of a master that failed to start
	wait := restartWait
	for {
		select {
		case err := <-done:
			if err != nil && expired() {
				log.Warn("master: leadership lost: the lease expired unrenewed")
				return nil
			}
			if err != nil && term.Err() == nil && (mr.Retryable(term, err) || errors.Is(err, ErrUnread)) {
				log.Warn("master: JetStream unavailable; starting again", "error", err, "in", wait)
				again = time.After(wait)
				wait = min(2*wait, l.ttl)
				continue
			}
			if err != nil && ctx.Err() == nil {
				log.Error("master: stepping down", "error", err)
				release, cancelRelease := context.WithTimeout(ctx, l.ttl/3)
				l.release(release)
				cancelRelease()
			}
			return nil
		case <-again:
			if expired() {
				break
			}
			again = nil
			if err := start(); err != nil {
				return err
			}
			continue
		case <-expiry.C:
			if !expired() {
				continue // set before a renewal moved the deadline
			}
		case <-tick.C:
			if expired() {
				break
			}
			sent := time.Now()
			renewBy := sent.Add(l.ttl / 3)
			if deadline.Before(renewBy) {
				renewBy = deadline
			}
			rctx, cancelRenew := context.WithDeadline(term, renewBy)
			err := l.renew(rctx)
			cancelRenew()
			if err == nil {
				deadline = sent.Add(l.ttl)
				expiry.Reset(time.Until(deadline))
				continue
			}
			log.Warn("master: renew", "error", err)
			if !taken(err) && !expired() {
				continue // the expiry decides
			}
		}
		if expired() {
			log.Warn("master: leadership lost: the lease expired unrenewed")
		}
		cancel()
		if again == nil {
			<-done
		}
		return nil
	}
}

// restartWait is how long a leader waits before it starts a master again
// after one failed to start for want of JetStream; the wait doubles each
// time, up to the lease's TTL.
const restartWait = 100 * time.Millisecond
