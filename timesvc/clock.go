package timesvc

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/drover-dev/drover/rpcq"
)

// Clock defaults.
const (
	// DefaultInterval is how often Run resyncs. NTP's shortest poll is 64s;
	// with MaxDrift at 100 ppm the bound grows 6 µs a minute between syncs.
	DefaultInterval = time.Minute
	// DefaultSamples is how many samples a resync takes. Eight is NTP's
	// clock filter; the best of eight round trips is rarely a queued one.
	DefaultSamples = 8
	// DefaultTimeout bounds one resync.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxDrift is the largest rate, in parts per million, at which
	// the local and the server's clocks are assumed to drift apart. Quartz
	// oscillators are specified at tens of ppm; NTP assumes 500 at most.
	DefaultMaxDrift = 100
	// unsyncedRetry is Run's wait after a failed sync while the Clock has
	// never synced: no point waiting a whole Interval with no time at all.
	unsyncedRetry = time.Second
)

// ClockConfig describes a Clock. Zero fields take their defaults.
type ClockConfig struct {
	// Interval is the time between Run's resyncs (default DefaultInterval).
	Interval time.Duration
	// Samples is how many samples each resync takes (default DefaultSamples).
	Samples int
	// Timeout bounds each resync, Sync's included (default DefaultTimeout).
	Timeout time.Duration
	// MaxDrift is how fast, in parts per million, the two clocks may drift
	// apart (default DefaultMaxDrift). Between syncs the bound grows by
	// MaxDrift × the time since the last measurement. At most 1e6.
	MaxDrift float64
	// Local reads the local clock (default time.Now). Its readings need a
	// monotonic component, as time.Now's have, for the Clock to ignore
	// steps of the local wall clock.
	Local func() time.Time
	// Logger receives failed and discarded syncs (default slog.Default).
	Logger *slog.Logger
}

func (c *ClockConfig) validate() error {
	switch {
	case c.Interval < 0:
		return fmt.Errorf("%w: Interval %v is negative", ErrInvalidConfig, c.Interval)
	case c.Samples < 0:
		return fmt.Errorf("%w: Samples %d is negative", ErrInvalidConfig, c.Samples)
	case c.Timeout < 0:
		return fmt.Errorf("%w: Timeout %v is negative", ErrInvalidConfig, c.Timeout)
	case c.MaxDrift < 0 || c.MaxDrift > 1e6 || math.IsNaN(c.MaxDrift):
		return fmt.Errorf("%w: MaxDrift %v: want 0 to 1e6 ppm", ErrInvalidConfig, c.MaxDrift)
	}
	c.Interval = cmp.Or(c.Interval, DefaultInterval)
	c.Samples = cmp.Or(c.Samples, DefaultSamples)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.MaxDrift = cmp.Or(c.MaxDrift, DefaultMaxDrift)
	if c.Local == nil {
		c.Local = time.Now
	}
	c.Logger = cmp.Or(c.Logger, slog.Default())
	return nil
}

// Clock tells the time service's time, within a bound, between syncs and
// while the service is unreachable. Its methods are safe for concurrent use.
type Clock struct {
	client *rpcq.Client
	cfg    ClockConfig

	mu sync.Mutex
	tl timeline
}

// NewClock returns a Clock that syncs through client, which the caller
// owns and closes after the Clock's last Sync or Run. The Clock has not
// synced yet: call Sync, or Run on a goroutine of its own.
func NewClock(client *rpcq.Client, cfg ClockConfig) (*Clock, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: nil client", ErrInvalidConfig)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Clock{client: client, cfg: cfg, tl: timeline{drift: cfg.MaxDrift}}, nil
}

// Sync measures the offset once, with Samples samples, within Timeout and
// ctx. It follows the new estimate unless the one it follows is still
// tighter, its growth by drift included; either way a measurement that
// succeeded returns nil. On error the Clock carries on with what it had.
func (c *Clock) Sync(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	e, err := Measure(ctx, c.client, c.cfg.Samples, c.cfg.Local)
	if err != nil {
		return err
	}
	t := c.cfg.Local()
	c.mu.Lock()
	took := c.tl.update(e, t)
	b := c.tl.bound(t)
	c.mu.Unlock()
	if !took {
		c.cfg.Logger.Debug("timesvc: kept the previous estimate, still the tighter",
			"offset", e.Offset, "rtt", e.RTT, "measured_bound", e.Bound, "bound", b)
	}
	return nil
}

// Run syncs at once and then every Interval until ctx ends, and returns
// ctx's error. A failed sync is logged and the Clock carries on with a
// growing bound; until the first success, Run retries after at most a
// second rather than a whole Interval.
func (c *Clock) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-timer.C:
		}
		wait := c.cfg.Interval
		if err := c.Sync(ctx); err != nil && ctx.Err() == nil {
			c.cfg.Logger.Warn("timesvc: sync failed", "error", err, "bound", c.Bound())
			if !c.Synced() {
				wait = min(wait, unsyncedRetry)
			}
		}
		timer.Reset(wait)
	}
}

// Now is the server's time: the local time plus the offset. It never
// returns a time earlier than one it returned before: when a resync moves
// the offset back, Now holds until the server's time catches up, and
// Bound covers the difference. Before the first sync Now is the local
// time, and the first sync may move it either way.
//
// Between syncs Now runs on the local clock's monotonic reading, so a
// step of the local wall clock does not move it.
func (c *Clock) Now() time.Time {
	t := c.cfg.Local()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tl.now(t)
}

// Bound is how far Now, called at the same moment, can be from the
// server's true time: the last accepted measurement's RTT/2, plus
// MaxDrift × the time since it, plus any time Now is holding. It is
// Unbounded until the first sync. So a deadline D in the server's time has
// surely passed once Now() − Bound() is after D.
func (c *Clock) Bound() time.Duration {
	t := c.cfg.Local()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tl.bound(t)
}

// Synced reports whether a sync has ever succeeded.
func (c *Clock) Synced() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tl.synced
}
