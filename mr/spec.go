package mr

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"time"
	"unicode/utf8"

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

// Validate checks the spec against the limits of limits.go and the apps
// reg knows, and fills in the defaults. Every error wraps ErrInvalidSpec,
// is a *SpecError naming the field, and says what is allowed. Nothing is
// allocated in proportion to the spec before its bounds are checked, so
// a hostile spec costs no more than its size.
func (s *JobSpec) Validate(reg *Registry) error {
	if err := s.ValidateForm(); err != nil {
		return err
	}
	_, err := reg.New(s.App, s.Args)
	switch {
	case errors.Is(err, ErrUnknownApp):
		return &SpecError{Field: "app", Problem: fmt.Sprintf("%q is unknown: want one of %v", s.App, reg.Names()), err: ErrInvalidSpec, cause: err}
	case err != nil: // the app's constructor refused the arguments
		why := cmp.Or(errors.Unwrap(err), err)
		return &SpecError{Field: "args", Problem: fmt.Sprintf("of %s: %s", s.App, oneLine(why.Error(), 300)), err: ErrInvalidSpec, cause: err}
	}
	return nil
}

// oneLine is s on one line of at most max bytes: control characters
// become spaces, and a longer s is cut with an ellipsis.
func oneLine(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, strings.ToValidUTF8(s, "\ufffd"))
	if len(s) <= max {
		return s
	}
	cut := max - 3
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// ValidateForm is Validate without the registry: every limit and rule of
// the spec's form, and the defaults filled in. It is for a spec that was
// valid when stored, whose app may have gone since, and for tools that
// know no apps.
func (s *JobSpec) ValidateForm() error {
	if err := s.checkLimits(); err != nil {
		return err
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

// RunsCommands reports whether the spec's app runs commands on workers
// (see CommandRunner), so that only a submitter with the exec privilege
// may submit it. The app is made from reg; one reg does not know counts
// as running commands.
func (s *JobSpec) RunsCommands(reg *Registry) bool {
	if s.App == StreamingApp {
		return true
	}
	app, err := reg.New(s.App, s.Args)
	return err != nil || RunsCommands(app)
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
		for _, sp := range Splits(in.Size, s.splitSize()) {
			splits = append(splits, MapSplit{Input: i, Split: sp})
		}
	}
	return splits
}

// validToken reports whether s can stand as one token of a subject or key.
func validToken(s string) bool { return len(s) <= 128 && token.Valid(s) }
