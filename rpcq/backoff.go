package rpcq

import (
	"math/rand/v2"
	"time"
)

// Retry timing.
const (
	// noRespondersBase is the first wait after "no responders"; it covers
	// a cluster's interest propagation and a replica's restart.
	noRespondersBase = 5 * time.Millisecond
	noRespondersMax  = 500 * time.Millisecond
	// lastSendMargin is the least time before its deadline at which a call
	// is resent after "no responders": enough for the answer to come back.
	lastSendMargin = 20 * time.Millisecond
	// maxRetryInterval caps the wait between resends of a retrying mode.
	maxRetryInterval = 5 * time.Second
)

// backoff is the wait before retry n (from 1): base doubling up to max,
// with up to ±25% of jitter so that clients that failed together do not
// retry together.
func backoff(n int, base, max time.Duration, r *rand.Rand) time.Duration {
	d := base
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	d = min(d, max)
	return d + time.Duration((r.Float64()-0.5)*0.5*float64(d))
}
