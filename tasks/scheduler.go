package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// DefaultSchedulerTick is how often a scheduler looks at the schedules
// when no period starts sooner: how soon it sees a new schedule.
const DefaultSchedulerTick = time.Second

// maxSchedules bounds the schedules a scheduler reads.
const maxSchedules = 10000

// openSchedules opens BucketSchedules, creating it if it is missing.
func openSchedules(ctx context.Context, js jetstream.JetStream, cfg StoreConfig) (jetstream.KeyValue, error) {
	return ensure(ctx, BucketSchedules,
		func() (jetstream.KeyValue, error) { return js.KeyValue(ctx, BucketSchedules) },
		func() (jetstream.KeyValue, error) {
			return js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
				Bucket: BucketSchedules, Description: "Drover periodic tasks",
				MaxValueSize: MaxRecordSize, Storage: cfg.Storage, Replicas: max(cfg.Replicas, 1),
			})
		})
}

// SetSchedule declares periodic task s, or replaces the schedule of the
// same name, which keeps its creation time and the periods it has
// enqueued: a schedule changed does not enqueue its past periods again.
// A new schedule's first period is the first to start after now.
func (c *Client) SetSchedule(ctx context.Context, s Schedule) error {
	kv, err := openSchedules(ctx, c.st.js, c.cfg.Store)
	if err != nil {
		return err
	}
	if !validName(s.Name, MaxQueueLen) {
		return fmt.Errorf("%w: schedule name %.80q", ErrInvalidTask, s.Name)
	}
	for range maxCASTries {
		e, err := kv.Get(ctx, s.Name)
		switch {
		case errors.Is(err, jetstream.ErrKeyNotFound):
			s.Created, s.Last = c.cfg.Clock().UTC(), time.Time{}
			if err := s.validate(); err != nil {
				return err
			}
			if _, err := kv.Create(ctx, s.Name, s.encode()); errors.Is(err, jetstream.ErrKeyExists) {
				continue
			} else if err != nil {
				return fmt.Errorf("tasks: schedule %s: %w", s.Name, err)
			}
			return nil
		case err != nil:
			return fmt.Errorf("tasks: schedule %s: %w", s.Name, err)
		}
		old, _ := decodeSchedule(e.Value())
		s.Created, s.Last = cmp.Or(old.Created, c.cfg.Clock().UTC()), old.Last
		if err := s.validate(); err != nil {
			return err
		}
		if _, err := kv.Update(ctx, s.Name, s.encode(), e.Revision()); errors.Is(err, jetstream.ErrKeyExists) || isWrongLastSeq(err) {
			continue
		} else if err != nil {
			return fmt.Errorf("tasks: schedule %s: %w", s.Name, err)
		}
		return nil
	}
	return fmt.Errorf("tasks: schedule %s: %w", s.Name, errConflict)
}

// Schedules returns every schedule, by name; one that breaks the limits
// is logged and left out.
func (c *Client) Schedules(ctx context.Context) ([]Schedule, error) {
	kv, err := openSchedules(ctx, c.st.js, c.cfg.Store)
	if err != nil {
		return nil, err
	}
	all, _, err := readSchedules(ctx, kv, c.log)
	return all, err
}

// DeleteSchedule removes schedule name: no period starting after it is
// enqueued. ErrScheduleNotFound if there is none.
func (c *Client) DeleteSchedule(ctx context.Context, name string) error {
	kv, err := openSchedules(ctx, c.st.js, c.cfg.Store)
	if err != nil {
		return err
	}
	if !validName(name, MaxQueueLen) {
		return ErrScheduleNotFound
	}
	if _, err := kv.Get(ctx, name); errors.Is(err, jetstream.ErrKeyNotFound) {
		return ErrScheduleNotFound
	} else if err != nil {
		return fmt.Errorf("tasks: schedule %s: %w", name, err)
	}
	return kv.Delete(ctx, name)
}

// readSchedules reads every valid schedule of kv, by name, and their
// revisions.
func readSchedules(ctx context.Context, kv jetstream.KeyValue, log *slog.Logger) ([]Schedule, map[string]uint64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, nil, fmt.Errorf("tasks: read schedules: %w", err)
	}
	defer w.Stop()
	var out []Schedule
	revs := map[string]uint64{}
	for {
		var e jetstream.KeyValueEntry
		var ok bool
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case e, ok = <-w.Updates():
		}
		if !ok {
			return nil, nil, errors.New("tasks: read schedules: watch stopped")
		}
		if e == nil {
			break
		}
		s, err := decodeSchedule(e.Value())
		if err != nil || s.Name != e.Key() {
			log.Warn("tasks: invalid schedule skipped", "key", e.Key(), "error", err)
			continue
		}
		if len(out) == maxSchedules {
			log.Warn("tasks: schedules past the limit skipped", "limit", maxSchedules)
			break
		}
		out = append(out, s)
		revs[s.Name] = e.Revision()
	}
	slices.SortFunc(out, func(a, b Schedule) int { return cmp.Compare(a.Name, b.Name) })
	return out, revs, nil
}

// SchedulerConfig describes a scheduler. Zero fields take their defaults.
type SchedulerConfig struct {
	// Tick is how often the schedules are read when no period starts
	// sooner (default DefaultSchedulerTick).
	Tick time.Duration
	// Clock says when periods start (default time.Now).
	Clock func() time.Time
	// Store says how missing streams and buckets are created.
	Store StoreConfig
	// Logger receives the scheduler's events (default slog.Default).
	Logger *slog.Logger
}

// Scheduler enqueues the periods of every schedule of BucketSchedules as
// they start. Run one where one process leads: the master that holds the
// leader lease runs it for its term. Two at once, as around a failover,
// enqueue each period once all the same: a period's task ID names it
// (PeriodID), so the second Enqueue finds it taken. A scheduler that
// starts after a gap enqueues the periods that started meanwhile, from
// the schedule's Last, which it moves forward after each enqueue.
type Scheduler struct {
	js  jetstream.JetStream
	cfg SchedulerConfig
	log *slog.Logger
}

// NewScheduler returns a scheduler of the task queue on js.
func NewScheduler(js jetstream.JetStream, cfg SchedulerConfig) (*Scheduler, error) {
	if cfg.Tick < 0 {
		return nil, fmt.Errorf("%w: Tick %v is negative", ErrInvalidConfig, cfg.Tick)
	}
	cfg.Tick = cmp.Or(cfg.Tick, DefaultSchedulerTick)
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Scheduler{js: js, cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default())}, nil
}

// Run enqueues periods until ctx ends. What JetStream fails is logged and
// tried again at the next tick.
func (s *Scheduler) Run(ctx context.Context) error {
	var c *Client
	var kv jetstream.KeyValue
	for {
		wait := s.cfg.Tick
		if c == nil {
			var err error
			if c, err = NewClient(ctx, s.js, ClientConfig{Store: s.cfg.Store, Clock: s.cfg.Clock, Logger: s.log}); err == nil {
				kv, err = openSchedules(ctx, s.js, s.cfg.Store)
			}
			if err != nil {
				c = nil
				if ctx.Err() == nil {
					s.log.Warn("tasks: scheduler: open the task queue", "error", err)
				}
			}
		}
		if c != nil {
			next, err := s.pass(ctx, c, kv)
			if err != nil && ctx.Err() == nil {
				s.log.Warn("tasks: scheduler", "error", err)
			}
			if !next.IsZero() {
				wait = min(wait, max(next.Sub(s.cfg.Clock()), time.Millisecond))
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// pass enqueues every period due now, and returns when the next starts.
func (s *Scheduler) pass(ctx context.Context, c *Client, kv jetstream.KeyValue) (next time.Time, err error) {
	all, revs, err := readSchedules(ctx, kv, s.log)
	if err != nil {
		return next, err
	}
	now := s.cfg.Clock()
	for _, sc := range all {
		spec, _ := sc.spec() // valid: readSchedules checked it
		starts, skipped := due(sc, spec, now)
		if skipped > 0 {
			s.log.Warn("tasks: scheduler: periods missed for too long skipped", "schedule", sc.Name, "periods", skipped)
		}
		rev := revs[sc.Name]
		for _, start := range starts {
			if err := s.enqueue(ctx, c, sc, start); err != nil {
				return next, err
			}
			if rev, err = s.advance(ctx, kv, sc.Name, start, rev); err != nil {
				return next, err
			}
		}
		if n := spec.Next(now); next.IsZero() || n.Before(next) {
			next = n
		}
	}
	return next, nil
}

func (s *Scheduler) enqueue(ctx context.Context, c *Client, sc Schedule, start time.Time) error {
	ti, err := c.Enqueue(ctx, &Task{Type: sc.Type, Payload: sc.Payload, ContentType: sc.ContentType}, sc.options(start)...)
	if err != nil {
		return fmt.Errorf("schedule %s: enqueue the period of %v: %w", sc.Name, start, err)
	}
	if !ti.Duplicate {
		s.log.Info("tasks: scheduler: period enqueued", "schedule", sc.Name, "period", start, "task", ti.ID)
	}
	return nil
}

// advance records that schedule name's period at start is enqueued,
// unless a later one is recorded already; it returns the revision the
// schedule is at.
func (s *Scheduler) advance(ctx context.Context, kv jetstream.KeyValue, name string, start time.Time, rev uint64) (uint64, error) {
	for range maxCASTries {
		e, err := kv.Get(ctx, name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			return 0, nil // deleted meanwhile
		}
		if err != nil {
			return rev, fmt.Errorf("schedule %s: %w", name, err)
		}
		sc, err := decodeSchedule(e.Value())
		if err != nil {
			return rev, err
		}
		if !sc.Last.Before(start) {
			return e.Revision(), nil
		}
		sc.Last = start.UTC()
		rev, err = kv.Update(ctx, name, sc.encode(), e.Revision())
		if err == nil {
			return rev, nil
		}
		if !errors.Is(err, jetstream.ErrKeyExists) && !isWrongLastSeq(err) {
			return rev, fmt.Errorf("schedule %s: %w", name, err)
		}
	}
	return rev, fmt.Errorf("schedule %s: %w", name, errConflict)
}
