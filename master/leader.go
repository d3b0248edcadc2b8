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

// leaseRecord is the leader lease: who holds it, and until when by the
// holder's clock.
type leaseRecord struct {
	Holder  string `json:"holder"`
	Expires int64  `json:"expires"` // Unix nanoseconds
}

// lease is one master's hold on the leader lease. It is taken with a KV
// create, or over an expired holder with a compare-and-set, and renewed
// by compare-and-set: two masters can never both hold it.
type lease struct {
	kv     jetstream.KeyValue
	holder string
	ttl    time.Duration
	rev    uint64 // of our last write, while we hold it
}

// acquire takes the lease if it is free, expired, or already ours.
func (l *lease) acquire(ctx context.Context, now time.Time) (bool, error) {
	rec, _ := json.Marshal(leaseRecord{Holder: l.holder, Expires: now.Add(l.ttl).UnixNano()})
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
	if json.Unmarshal(entry.Value(), &cur) == nil && cur.Holder != l.holder && now.UnixNano() < cur.Expires {
		return false, nil
	}
	rev, err := l.kv.Update(ctx, leaderKey, rec, entry.Revision())
	if errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyNotFound) {
		return false, nil
	}
	l.rev = rev
	return err == nil, err
}

// renew extends the lease; an error means it is no longer ours.
func (l *lease) renew(ctx context.Context, now time.Time) error {
	rec, _ := json.Marshal(leaseRecord{Holder: l.holder, Expires: now.Add(l.ttl).UnixNano()})
	rev, err := l.kv.Update(ctx, leaderKey, rec, l.rev)
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
// buckets and streams. newMaster makes a fresh Master for each term.
func RunLeader(ctx context.Context, store *mr.Store, holder string, ttl time.Duration, log *slog.Logger, newMaster func() (*Master, error)) error {
	if ttl <= 0 {
		ttl = DefaultLeaderTTL
	}
	l := &lease{kv: store.Jobs, holder: holder, ttl: ttl}
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		ok, err := l.acquire(ctx, time.Now())
		if err != nil && ctx.Err() == nil {
			log.Warn("master: leader lease", "error", err)
		}
		if ok {
			log.Info("master: leading", "holder", holder)
			if err := lead(ctx, l, tick, log, newMaster); err != nil {
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
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// lead runs a master for as long as the lease is renewed.
func lead(ctx context.Context, l *lease, tick *time.Ticker, log *slog.Logger, newMaster func() (*Master, error)) error {
	m, err := newMaster()
	if err != nil {
		return err
	}
	term, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(term) }()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			if err := l.renew(term, time.Now()); err != nil {
				log.Warn("master: renew", "error", err)
				cancel()
				<-done
				return nil
			}
		}
	}
}
