package mr

import (
	"fmt"
	"io"
	"iter"
	"time"

	"github.com/drover-dev/drover/internal/token"
)

// Defaults of a job spec's zero fields.
const (
	DefaultSplitSize   = 16 << 20 // bytes of input per map task
	DefaultMaxAttempts = 4
	DefaultTaskTimeout = 10 * time.Minute
	// DefaultMaxSkippedRecords bounds the bad records one map task may
	// skip: each costs two attempts, and a split that is mostly bad is
	// better fixed than skipped.
	DefaultMaxSkippedRecords = 100
	// Backups are conservative: only near the end of a phase, and only of
	// a task far behind its finished peers, so that a task that runs
	// normally is never run twice.
	DefaultSpeculationAfter    = 0.5
	DefaultSpeculationSlowdown = 3.0
)

// Input is one input of a job: an object in the data store, uploaded and
// named by its SHA-256, or a path every worker can read.
type Input struct {
	Name   string `json:"name"`             // what the job calls it (a file's base name)
	Object string `json:"object,omitempty"` // its object in ObjectStoreData
	Path   string `json:"path,omitempty"`   // or its path on a file system every worker shares
	Size   int64  `json:"size"`
	Digest string `json:"digest"` // SHA-256, hex
	// Offset is where an uploaded piece starts in the file it was cut
	// from: records are numbered by their place in the file.
	Offset int64 `json:"offset,omitempty"`
}

// Records yields the records of split s of this input, read from r (size
// bytes), numbered from the start of the input's file.
func (in *Input) Records(r io.ReaderAt, size int64, s Split) iter.Seq2[Record, error] {
	recs := ReadSplit(r, size, s, in.Name)
	if in.Offset == 0 {
		return recs
	}
	return func(yield func(Record, error) bool) {
		for rec, err := range recs {
			rec.Offset += in.Offset
			if !yield(rec, err) {
				return
			}
		}
	}
}

// JobSpec is what a client submits.
type JobSpec struct {
	ID          string        `json:"id"`
	App         string        `json:"app"`
	Args        []string      `json:"args,omitempty"`
	Inputs      []Input       `json:"inputs"`
	R           int           `json:"r"`                      // reduce tasks, and output files
	SplitSize   int64         `json:"split_size,omitempty"`   // default DefaultSplitSize
	MaxAttempts int           `json:"max_attempts,omitempty"` // default DefaultMaxAttempts
	Timeout     time.Duration `json:"timeout,omitempty"`      // per attempt; default DefaultTaskTimeout
	// SkipBadRecords lets a map attempt skip an input record on which two
	// attempts failed; the job reports what it skipped. Those failures do
	// not count toward MaxAttempts, so that a split with several bad
	// records finishes; a map task with more than MaxSkippedRecords of
	// them fails the job.
	SkipBadRecords    bool `json:"skip_bad_records,omitempty"`
	MaxSkippedRecords int  `json:"max_skipped_records,omitempty"` // default DefaultMaxSkippedRecords
	// Speculation runs backup attempts of stragglers near the end of a
	// phase; the first attempt to commit wins. A task gets a backup once
	// SpeculationAfter of its phase's tasks have finished, if it has run,
	// and expects to run, SpeculationSlowdown times as long as they took.
	Speculation         bool    `json:"speculation,omitempty"`
	SpeculationAfter    float64 `json:"speculation_after,omitempty"`    // default DefaultSpeculationAfter
	SpeculationSlowdown float64 `json:"speculation_slowdown,omitempty"` // default DefaultSpeculationSlowdown
	// NoReuse runs every map task, even one whose lineage matches a map
	// output an earlier job committed.
	NoReuse bool `json:"no_reuse,omitempty"`
}

// Validate checks the spec against the apps reg knows and fills in the
// defaults. Every error wraps ErrInvalidSpec and says what is wrong in
// terms the user wrote.
func (s *JobSpec) Validate(reg *Registry) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidSpec, fmt.Sprintf(format, args...))
	}
	switch {
	case s.ID != "" && !validToken(s.ID): // empty: the master names it
		return bad("job ID %q: want letters, digits, '-' and '_'", s.ID)
	case s.R < 1:
		return bad("R is %d: a job needs at least one reduce task", s.R)
	case len(s.Inputs) == 0:
		return bad("no inputs")
	case s.SplitSize < 0 || s.MaxAttempts < 0 || s.Timeout < 0 || s.MaxSkippedRecords < 0:
		return bad("negative split size, attempts, timeout or skipped records")
	case s.SpeculationAfter < 0 || s.SpeculationAfter > 1:
		return bad("speculation after %g of a phase: want a fraction from 0 to 1", s.SpeculationAfter)
	case s.SpeculationSlowdown != 0 && s.SpeculationSlowdown < 1:
		return bad("speculation slowdown %g: want 1 or more, times the finished tasks' time", s.SpeculationSlowdown)
	}
	for i, in := range s.Inputs {
		switch {
		case in.Name == "":
			return bad("input %d has no name", i)
		case (in.Object == "") == (in.Path == ""):
			return bad("input %s: want an object or a path, not both or neither", in.Name)
		case in.Size < 0:
			return bad("input %s: negative size", in.Name)
		}
	}
	if _, err := reg.New(s.App, s.Args); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidSpec, err)
	}
	if s.SplitSize == 0 {
		s.SplitSize = DefaultSplitSize
	}
	if s.MaxAttempts == 0 {
		s.MaxAttempts = DefaultMaxAttempts
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTaskTimeout
	}
	if s.MaxSkippedRecords == 0 {
		s.MaxSkippedRecords = DefaultMaxSkippedRecords
	}
	if s.SpeculationAfter == 0 {
		s.SpeculationAfter = DefaultSpeculationAfter
	}
	if s.SpeculationSlowdown == 0 {
		s.SpeculationSlowdown = DefaultSpeculationSlowdown
	}
	return nil
}

// MapSplit is one map task's input: a split of one input.
type MapSplit struct {
	Input int // index into JobSpec.Inputs
	Split Split
}

// MapSplits numbers the job's map tasks, in input order: one per uploaded
// object (the client cut large files at line boundaries before uploading
// them), and the splits of every path input. Map task n reads
// MapSplits()[n]; that order is also the order in which reduces see
// values, which keeps outputs deterministic.
func (s *JobSpec) MapSplits() []MapSplit {
	var splits []MapSplit
	for i, in := range s.Inputs {
		if in.Object != "" {
			splits = append(splits, MapSplit{Input: i, Split: Split{0, in.Size}})
			continue
		}
		for _, sp := range Splits(in.Size, s.SplitSize) {
			splits = append(splits, MapSplit{Input: i, Split: sp})
		}
	}
	return splits
}

// validToken reports whether s can stand as one token of a subject or key.
func validToken(s string) bool { return len(s) <= 128 && token.Valid(s) }
