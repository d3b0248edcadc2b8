package tasks

import (
	"time"
)

// The pure core: what a task's record becomes at each step of its life.
// Nothing here reads a clock, draws a random number or talks to NATS;
// the shell (Server, Client) passes the time and the jitter in, and
// writes the records these functions return with compare-and-set, so
// that of two processes changing one task, one wins and the other reads
// the record again and decides anew.

// verdict is what a worker does with a delivered message.
type verdict int

const (
	// verdictRun: claim the task (started) and run it.
	verdictRun verdict = iota
	// verdictWait: not yet; hand the message back for the wait given.
	verdictWait
	// verdictDrop: the message is stale (its task ended, or it belongs to
	// an earlier run): close the task's group place and ack.
	verdictDrop
	// verdictArchive: archive the task with the error given, then drop.
	verdictArchive
)

// admit decides what to do with the message of run, delivered at now, of
// a task whose record is r. A record still running means that its
// attempt's worker stopped heartbeating, for JetStream delivers the
// message again only after the lease: that attempt failed with
// ErrLeaseExpired, and counts as one.
func admit(r record, run string, now time.Time) (v verdict, wait time.Duration, why error) {
	switch {
	case run != r.Run || r.State.terminal():
		return verdictDrop, 0, nil
	case r.Deadline != 0 && now.UnixNano() >= r.Deadline:
		return verdictArchive, 0, ErrDeadline
	case r.State == StateRunning:
		if r.Retried >= r.MaxRetry {
			return verdictArchive, 0, ErrLeaseExpired
		}
		return verdictRun, 0, nil
	case r.ProcessAt > now.UnixNano():
		return verdictWait, time.Duration(r.ProcessAt - now.UnixNano()), nil
	}
	return verdictRun, 0, nil
}

// started is r once worker starts an attempt at now, from the message at
// stream sequence seq. Taking over from an attempt that lost its lease
// counts that attempt as a failure.
func started(r record, worker string, seq uint64, now time.Time) record {
	r.Seq = seq
	if r.State == StateRunning {
		r.Retried++
		r.LastError, r.LastFailed = ErrLeaseExpired.Error(), now.UnixNano()
	}
	r.State, r.Worker, r.StartedAt = StateRunning, worker, now.UnixNano()
	r.Attempt++
	return r
}

// failed is r after an attempt failed at now with errText: retrying after
// a backoff drawn with jitter u in [0, 1), or archived if skip is set,
// its retries are used up, or its deadline comes before the retry.
func failed(r record, errText string, skip bool, now time.Time, b Backoff, u float64) record {
	r.LastError, r.LastFailed = truncate(errText, MaxErrorLen), now.UnixNano()
	if skip || r.Retried >= r.MaxRetry {
		return archived(r, now)
	}
	r.Retried++
	r.State = StateRetrying
	r.ProcessAt = now.Add(b.Delay(r.Retried, u)).UnixNano()
	if r.Deadline != 0 && r.ProcessAt >= r.Deadline {
		r.LastError = ErrDeadline.Error() + " before the next retry: " + r.LastError
		r.LastError = truncate(r.LastError, MaxErrorLen)
		return archived(r, now)
	}
	return r
}

// archived is r moved to the archive at now.
func archived(r record, now time.Time) record {
	r.State, r.CompletedAt = StateArchived, now.UnixNano()
	return r
}

// archivedFor is r archived at now because of why.
func archivedFor(r record, why error, now time.Time) record {
	r.LastError, r.LastFailed = truncate(why.Error(), MaxErrorLen), now.UnixNano()
	return archived(r, now)
}

// succeeded is r done at now with result.
func succeeded(r record, result []byte, now time.Time) record {
	r.State, r.Result, r.CompletedAt, r.LastError = StateDone, result, now.UnixNano(), ""
	return r
}

// handedBack is r given back by a stopping worker: ready at once, with no
// failure counted.
func handedBack(r record) record {
	r.State, r.ProcessAt = StatePending, 0
	return r
}

// rerun is an archived r run again: a new run, named run, with its
// retries back.
func rerun(r record, run string, now time.Time) record {
	r.State, r.Run, r.Retried, r.ProcessAt, r.CompletedAt, r.Result, r.Seq = StatePending, run, 0, 0, 0, nil, 0
	r.EnqueuedAt = now.UnixNano()
	return r
}

// ttl is how long the broker keeps r as it is (0: until changed): a done
// task its retention (a second at least, JetStream's least TTL, so that
// a watcher sees it end), an archived task its archive time.
func ttl(r record) time.Duration {
	switch r.State {
	case StateDone:
		return max(roundUpSecond(time.Duration(r.Retention)), time.Second)
	case StateArchived:
		return roundUpSecond(time.Duration(r.ArchiveFor))
	}
	return 0
}

// roundUpSecond rounds d up to whole seconds: JetStream's TTLs are whole
// seconds, and a task must not be forgotten before its time.
func roundUpSecond(d time.Duration) time.Duration {
	return (d + time.Second - 1).Truncate(time.Second)
}

// Backoff is the schedule of retries: exponential, with jitter.
type Backoff struct {
	Base time.Duration // the first retry's delay, before jitter
	Max  time.Duration // the cap of every delay
}

// Delay is the wait before retry n (from 1) given u in [0, 1): Base
// doubled for each retry before n, capped at Max, of which a random half
// is taken off ("equal jitter"), so that tasks that failed together do
// not retry together and no retry comes sooner than half its step.
func (b Backoff) Delay(n int, u float64) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	return d/2 + time.Duration(u*float64(d/2))
}
