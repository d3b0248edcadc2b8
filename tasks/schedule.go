package tasks

import (
	"cmp"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/robfig/cron/v3"
)

// Limits and defaults of periodic tasks.
const (
	// MaxScheduleSpecLen bounds a schedule's cron expression.
	MaxScheduleSpecLen = 256
	// MinEvery is the shortest interval of a schedule: a period's task ID
	// names its start in whole seconds.
	MinEvery = time.Second
	// DefaultScheduleRetention is how long a periodic task is kept once
	// done: its ID, which names its period, stays taken as long, so a
	// master that takes over within it cannot enqueue the period again.
	DefaultScheduleRetention = 10 * time.Minute
	// maxCatchUp bounds the periods a scheduler enqueues at once for one
	// schedule after it was away; older ones are skipped, and logged.
	maxCatchUp = 1000
)

// Schedule is a periodic task: a task enqueued once per period, whose
// period is a cron expression (Cron) or an interval (Every). A period
// starts at each time the cron expression names, or at each multiple of
// Every since the Unix epoch; its task's ID is the schedule's name and
// the period's start (PeriodID), which makes the enqueue of a period
// unique whoever makes it.
type Schedule struct {
	// Name names the schedule, as a queue is named.
	Name string `json:"name"`
	// Cron is a standard cron expression of five fields (minute, hour,
	// day of month, month, day of week) or a descriptor such as @hourly,
	// in UTC; or empty, with Every.
	Cron string `json:"cron,omitempty"`
	// Every is the interval, of at least MinEvery, when Cron is empty.
	Every time.Duration `json:"every,omitempty"`

	// The task enqueued each period, and its options.
	Type        string        `json:"type"`
	Payload     []byte        `json:"payload,omitempty"`
	ContentType string        `json:"content_type,omitempty"`
	Queue       string        `json:"queue,omitempty"` // default DefaultQueue
	MaxRetry    int           `json:"max_retry"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	// Retention is how long each period's task is kept once done
	// (default DefaultScheduleRetention): it must be longer than a
	// master's failover, or a period enqueued just before the leader died
	// could be enqueued again by the next.
	Retention time.Duration `json:"retention,omitempty"`

	// Created is when the schedule was first set: its first period is
	// the first to start after it.
	Created time.Time `json:"created"`
	// Last is the start of the last period enqueued; zero before the
	// first.
	Last time.Time `json:"last,omitzero"`
}

// spec is the schedule's period, parsed.
func (s *Schedule) spec() (cron.Schedule, error) {
	if s.Cron != "" {
		if len(s.Cron) > MaxScheduleSpecLen {
			return nil, fmt.Errorf("%w: cron expression of %d bytes: at most %d", ErrInvalidTask, len(s.Cron), MaxScheduleSpecLen)
		}
		c, err := cron.ParseStandard(s.Cron)
		if err != nil {
			return nil, fmt.Errorf("%w: cron expression %.80q: %v", ErrInvalidTask, s.Cron, err)
		}
		return c, nil
	}
	if s.Every < MinEvery || s.Every%time.Second != 0 {
		return nil, fmt.Errorf("%w: interval %v: want whole seconds, at least %v", ErrInvalidTask, s.Every, MinEvery)
	}
	return every(s.Every), nil
}

// every is an interval as a cron.Schedule, aligned on the Unix epoch.
type every time.Duration

func (e every) Next(t time.Time) time.Time {
	d := int64(e)
	n := t.UnixNano()
	return time.Unix(0, (n/d+1)*d).UTC()
}

// validate checks s against the limits, as a record read from the bus.
func (s *Schedule) validate() error {
	switch {
	case !validName(s.Name, MaxQueueLen):
		return fmt.Errorf("%w: schedule name %.80q: want 1 to %d letters, digits, '-', '_' or '='", ErrInvalidTask, s.Name, MaxQueueLen)
	case s.Cron != "" && s.Every != 0:
		return fmt.Errorf("%w: schedule %s has both a cron expression and an interval", ErrInvalidTask, s.Name)
	case s.Created.IsZero():
		return fmt.Errorf("%w: schedule %s has no creation time", ErrInvalidTask, s.Name)
	}
	if _, err := s.spec(); err != nil {
		return err
	}
	// The task it enqueues must be one Enqueue takes.
	_, err := newRecord(&Task{Type: s.Type, Payload: s.Payload, ContentType: s.ContentType}, s.options(s.Created), s.Created, time.Hour, func() string { return "x" })
	return err
}

// options are the options of the task of the period starting at start.
func (s *Schedule) options(start time.Time) []Option {
	opts := []Option{TaskID(PeriodID(s.Name, start)), MaxRetry(s.MaxRetry), Retention(cmp.Or(s.Retention, DefaultScheduleRetention))}
	if s.Queue != "" {
		opts = append(opts, Queue(s.Queue))
	}
	if s.Timeout > 0 {
		opts = append(opts, Timeout(s.Timeout))
	}
	return opts
}

// PeriodID is the task ID of schedule name's period that starts at
// start: the name and the start in Unix seconds.
func PeriodID(name string, start time.Time) string {
	return name + "-" + strconv.FormatInt(start.Unix(), 10)
}

// due returns the starts of s's periods that have begun by now and are
// not enqueued yet, oldest first: at most maxCatchUp, the latest ones,
// and how many older ones were skipped.
func due(s Schedule, spec cron.Schedule, now time.Time) (starts []time.Time, skipped int) {
	from := s.Last
	if from.IsZero() {
		from = s.Created
	}
	if e, ok := spec.(every); ok && now.Sub(from) > time.Duration(e)*(maxCatchUp+1) {
		// Long away: the periods before the last maxCatchUp are skipped
		// without being counted one by one.
		later := now.Add(-time.Duration(e) * maxCatchUp)
		skipped = int(later.Sub(from) / time.Duration(e))
		from = later
	}
	for t := spec.Next(from); !t.After(now); t = spec.Next(t) {
		starts = append(starts, t)
		if len(starts) > 2*maxCatchUp { // drop the oldest half: bounded memory
			skipped += len(starts) - maxCatchUp
			starts = append(starts[:0], starts[len(starts)-maxCatchUp:]...)
		}
	}
	if len(starts) > maxCatchUp {
		skipped += len(starts) - maxCatchUp
		starts = starts[len(starts)-maxCatchUp:]
	}
	return starts, skipped
}

func (s *Schedule) encode() []byte {
	data, _ := json.Marshal(s)
	return data
}

// decodeSchedule decodes and checks a schedule read from the bus.
func decodeSchedule(data []byte) (Schedule, error) {
	var s Schedule
	if len(data) > MaxRecordSize {
		return s, fmt.Errorf("%w: schedule of %d bytes", ErrInvalidTask, len(data))
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return s, fmt.Errorf("%w: schedule: %v", ErrInvalidTask, err)
	}
	return s, s.validate()
}
