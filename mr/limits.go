package mr

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Limits of what a client may ask of Drover. Every message on the bus may
// be hostile, and a job spec may come straight from a client rather than
// from the CLI, so the master checks each of these at Submit, before it
// allocates anything in proportion to the spec or stores it, and again
// when it loads a stored job. Workers check the tasks they take against
// the same bounds (see DecodeTask). The CLI checks its flags against them
// before it reads or uploads anything.
//
// The bounds fit together: a map task's commit record holds a bit for
// each of R partitions, a done job's status names R outputs, and both must fit one
// NATS message (1 MiB by default), which is what MaxR and MaxJobIDLen
// keep true (see TestLimitsFitOneMessage).
const (
	// MaxR is the most reduce tasks, and output files, a job may have.
	MaxR = 10_000
	// MaxInputs is the most inputs a job spec may list; an uploaded file
	// is one input per piece.
	MaxInputs = 10_000
	// MaxMapTasks is the most map tasks (splits) a job may have, as its
	// inputs' declared sizes and its split size make them.
	MaxMapTasks = 100_000
	// MaxMapOutputs bounds map tasks times R: the map output partitions a
	// job makes. A map's commit names its outputs with one bit each (see
	// MapOutputs), which the master keeps while the job runs and every
	// reduce reads: 10,000 maps and 1,000 reduces.
	MaxMapOutputs = 10_000_000
	// MinSplitSize and MaxSplitSize bound a job's split size: the bytes of
	// input per map task. Zero in a spec means DefaultSplitSize.
	MinSplitSize = 1 << 10
	MaxSplitSize = 1 << 30
	// MaxInputSize is the most bytes one input may declare; for a piece
	// of an uploaded file, its offset in the file plus its size.
	MaxInputSize = 1 << 40
	// MaxInputNameLen is the most bytes of an input's name, a file's base
	// name: printable UTF-8, without control characters such as newlines.
	MaxInputNameLen = 255
	// MaxObjectNameLen is the most bytes of an uploaded input's object
	// name after its prefix (see InputObject), which Upload makes its
	// SHA-256 in hex: an input may name no object outside that prefix.
	MaxObjectNameLen = 128
	// MaxPathLen is the most bytes of an input's path on a shared file
	// system: absolute, clean (no "." or ".." elements) and printable.
	MaxPathLen = 4096
	// MaxArgs is the most arguments a job's app may take.
	MaxArgs = 64
	// MaxArgLen is the most bytes of one argument. A streaming job's
	// mapper and reducer commands are arguments: a longer program belongs
	// in a file every worker can run.
	MaxArgLen = 32 << 10
	// MaxArgsLen is the most bytes of all of a job's arguments together:
	// every task message carries them.
	MaxArgsLen = 64 << 10
	// MaxAppNameLen is the most bytes of an app's name, made of ASCII
	// letters, digits, '-' and '_'.
	MaxAppNameLen = 64
	// MaxJobIDLen is the most bytes of a job ID a client chooses, made of
	// ASCII letters, digits, '-' and '_'. The master's own are 22.
	MaxJobIDLen = 32
	// MaxSpecBytes is the most bytes a job spec may take encoded as JSON,
	// as the master stores it.
	MaxSpecBytes = 512 << 10
	// MaxAttemptsCeiling is the largest MaxAttempts a job may set.
	MaxAttemptsCeiling = 100
	// MinTimeout and MaxTimeout bound a job's Timeout, how long one
	// attempt may run. Zero in a spec means DefaultTaskTimeout.
	MinTimeout = time.Second
	MaxTimeout = 7 * 24 * time.Hour
	// MaxSkippedRecordsCeiling is the largest MaxSkippedRecords a job may
	// set: a map task's message lists the records it skips.
	MaxSkippedRecordsCeiling = 10_000
	// MaxSpeculationSlowdown is the largest SpeculationSlowdown a job may
	// set.
	MaxSpeculationSlowdown = 1000
	// MaxTaskAttempt is the largest attempt number a task message may
	// carry.
	MaxTaskAttempt = math.MaxInt32
)

// SpecError is a job spec, or a task message, that breaks a rule or a
// limit: Field names the field as it is spelt on the wire ("r",
// "inputs[2].name"), Problem says what is wrong and what is allowed.
type SpecError struct {
	Field   string
	Problem string
	err     error // ErrInvalidSpec or ErrInvalidTask
	cause   error // what found the problem, if not this package's checks
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("%v: %s %s", e.err, e.Field, e.Problem)
}

// Unwrap returns ErrInvalidSpec, or ErrInvalidTask for a task message,
// and the error that found the problem, such as ErrUnknownApp.
func (e *SpecError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.err}
	}
	return []error{e.err, e.cause}
}

// specErrorf is a SpecError of a job spec.
func specErrorf(field, format string, args ...any) error {
	return &SpecError{Field: field, Problem: fmt.Sprintf(format, args...), err: ErrInvalidSpec}
}

// taskErrorf is a SpecError of a task message.
func taskErrorf(field, format string, args ...any) error {
	return &SpecError{Field: field, Problem: fmt.Sprintf(format, args...), err: ErrInvalidTask}
}

// checkLimits checks every bound of the spec that needs no registry, in
// an order that allocates nothing: counts and lengths first, then what
// they add up to.
func (s *JobSpec) checkLimits() error {
	switch {
	case len(s.ID) > MaxJobIDLen:
		return specErrorf("id", "is %d bytes: want at most %d", len(s.ID), MaxJobIDLen)
	case s.ID != "" && !validToken(s.ID): // empty: the master names it
		return specErrorf("id", "%q: want ASCII letters, digits, '-' and '_'", s.ID)
	}
	if err := checkAppName("app", s.App, specErrorf); err != nil {
		return err
	}
	if err := checkArgs("args", s.Args, specErrorf); err != nil {
		return err
	}
	switch {
	case s.R < 1 || s.R > MaxR:
		return specErrorf("r", "is %d: want 1 to %d reduce tasks", s.R, MaxR)
	case s.SplitSize != 0 && (s.SplitSize < MinSplitSize || s.SplitSize > MaxSplitSize):
		return specErrorf("split_size", "is %d: want %d to %d bytes (or 0 for the default, %d)", s.SplitSize, MinSplitSize, MaxSplitSize, DefaultSplitSize)
	case s.MaxAttempts < 0 || s.MaxAttempts > MaxAttemptsCeiling:
		return specErrorf("max_attempts", "is %d: want 1 to %d (or 0 for the default, %d)", s.MaxAttempts, MaxAttemptsCeiling, DefaultMaxAttempts)
	case s.Timeout != 0 && (s.Timeout < MinTimeout || s.Timeout > MaxTimeout):
		return specErrorf("timeout", "is %v: want %v to %v (or 0 for the default, %v)", s.Timeout, MinTimeout, MaxTimeout, DefaultTaskTimeout)
	case s.MaxSkippedRecords < 0 || s.MaxSkippedRecords > MaxSkippedRecordsCeiling:
		return specErrorf("max_skipped_records", "is %d: want 1 to %d (or 0 for the default, %d)", s.MaxSkippedRecords, MaxSkippedRecordsCeiling, DefaultMaxSkippedRecords)
	case math.IsNaN(s.SpeculationAfter) || s.SpeculationAfter < 0 || s.SpeculationAfter > 1:
		return specErrorf("speculation_after", "is %g: want a fraction from 0 to 1 of a phase", s.SpeculationAfter)
	case math.IsNaN(s.SpeculationSlowdown) || s.SpeculationSlowdown != 0 && (s.SpeculationSlowdown < 1 || s.SpeculationSlowdown > MaxSpeculationSlowdown):
		return specErrorf("speculation_slowdown", "is %g: want 1 to %d times the finished tasks' time (or 0 for the default, %g)", s.SpeculationSlowdown, MaxSpeculationSlowdown, DefaultSpeculationSlowdown)
	case len(s.Inputs) == 0:
		return specErrorf("inputs", "are missing: a job needs at least one")
	case len(s.Inputs) > MaxInputs:
		return specErrorf("inputs", "are %d: want at most %d", len(s.Inputs), MaxInputs)
	}
	for i := range s.Inputs {
		if err := s.Inputs[i].check(fmt.Sprintf("inputs[%d]", i), specErrorf); err != nil {
			return err
		}
	}
	if n := s.encodedSize(); n > MaxSpecBytes {
		return specErrorf("spec", "is %d bytes encoded: want at most %d", n, MaxSpecBytes)
	}
	maps, ok := s.countMapTasks(MaxMapTasks)
	if !ok {
		return specErrorf("inputs", "make more than %d map tasks at split size %d: use a larger split size", MaxMapTasks, s.splitSize())
	}
	if maps*s.R > MaxMapOutputs {
		return specErrorf("r", "is %d with %d map tasks: want map tasks times R at most %d", s.R, maps, MaxMapOutputs)
	}
	return nil
}

// MaxWorkerIDLen is the most bytes of a worker's ID, made of ASCII
// letters, digits, '-' and '_' (see ValidWorkerID).
const MaxWorkerIDLen = 64

// ValidWorkerID reports whether id can name a worker: one subject token
// (WorkerSubject) of ASCII letters, digits, '-' and '_', of at most
// MaxWorkerIDLen bytes.
func ValidWorkerID(id string) bool { return id != "" && len(id) <= MaxWorkerIDLen && validToken(id) }

// errorfFunc makes the error of a field: of a spec, or of a task.
type errorfFunc func(field, format string, args ...any) error

// checkAppName checks an app's name.
func checkAppName(field, name string, errorf errorfFunc) error {
	switch {
	case name == "":
		return errorf(field, "is missing")
	case len(name) > MaxAppNameLen:
		return errorf(field, "is %d bytes: want at most %d", len(name), MaxAppNameLen)
	case !validToken(name):
		return errorf(field, "%q: want ASCII letters, digits, '-' and '_'", name)
	}
	return nil
}

// checkArgs checks an app's arguments against MaxArgs, MaxArgLen and
// MaxArgsLen.
func checkArgs(field string, args []string, errorf errorfFunc) error {
	if len(args) > MaxArgs {
		return errorf(field, "are %d: want at most %d", len(args), MaxArgs)
	}
	total := 0
	for i, a := range args {
		if len(a) > MaxArgLen {
			return errorf(fmt.Sprintf("%s[%d]", field, i), "is %d bytes: want at most %d (put a long program in a file)", len(a), MaxArgLen)
		}
		total += len(a)
	}
	if total > MaxArgsLen {
		return errorf(field, "are %d bytes together: want at most %d", total, MaxArgsLen)
	}
	return nil
}

// check checks an input's form and bounds; errorf makes the error (of a
// spec or of a task), field is where the input is.
func (in *Input) check(field string, errorf errorfFunc) error {
	switch {
	case in.Name == "":
		return errorf(field+".name", "is missing")
	case len(in.Name) > MaxInputNameLen:
		return errorf(field+".name", "is %d bytes: want at most %d", len(in.Name), MaxInputNameLen)
	case !printable(in.Name):
		return errorf(field+".name", "%q: want printable UTF-8, no control characters", in.Name)
	case (in.Object == "") == (in.Path == ""):
		return errorf(field, "%s: want an object or a path, not both or neither", in.Name)
	case in.Size < 0 || in.Size > MaxInputSize:
		return errorf(field+".size", "is %d: want 0 to %d bytes", in.Size, int64(MaxInputSize))
	case in.Offset < 0 || in.Offset > MaxInputSize-in.Size:
		return errorf(field+".offset", "is %d: want 0 to %d bytes less its size", in.Offset, int64(MaxInputSize))
	case in.Digest != "" && !validDigest(in.Digest):
		return errorf(field+".digest", "%.80q: want a SHA-256 in 64 lowercase hex digits", in.Digest)
	}
	if in.Object != "" {
		name, ok := strings.CutPrefix(in.Object, InputObject(""))
		switch {
		case !ok || len(name) > MaxObjectNameLen || !validObjectName(name):
			return errorf(field+".object", "%.100q: want %s and at most %d letters, digits, '.', '-' and '_'", in.Object, InputObject(""), MaxObjectNameLen)
		case in.Digest != "" && in.Object != InputObject(in.Digest):
			return errorf(field+".object", "%.100q: want %s, named by its digest", in.Object, InputObject(in.Digest))
		}
		return nil
	}
	switch {
	case len(in.Path) > MaxPathLen:
		return errorf(field+".path", "is %d bytes: want at most %d", len(in.Path), MaxPathLen)
	case !printable(in.Path):
		return errorf(field+".path", "%q: want printable UTF-8, no control characters", in.Path)
	case !filepath.IsAbs(in.Path) || filepath.Clean(in.Path) != in.Path:
		return errorf(field+".path", "%q: want an absolute, clean path (no '.' or '..' elements)", in.Path)
	}
	return nil
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || 0x80 <= r && r < 0xa0 })
}

// validObjectName reports whether s can name an uploaded input: what
// follows InputObject's prefix.
func validObjectName(s string) bool {
	if s == "" || s[0] == '.' {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// validDigest reports whether s is a SHA-256 in lowercase hex.
func validDigest(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// splitSize is the spec's split size, or the default for one not set.
func (s *JobSpec) splitSize() int64 {
	if s.SplitSize <= 0 {
		return DefaultSplitSize
	}
	return s.SplitSize
}

// countMapTasks counts the map tasks MapSplits would make, without making
// them; ok is false, and the count stops, past limit. Inputs must have
// been checked (sizes within MaxInputSize), so that nothing overflows.
func (s *JobSpec) countMapTasks(limit int) (n int, ok bool) {
	split := s.splitSize()
	for _, in := range s.Inputs {
		switch {
		case in.Object != "" || in.Size == 0:
			n++
		default:
			n += int((in.Size + split - 1) / split)
		}
		if n > limit {
			return n, false
		}
	}
	return n, true
}

// Per-element overheads of encodedSize: more than the field names,
// punctuation and numbers of a spec, an input and an argument take in
// JSON.
const (
	specOverhead  = 512
	inputOverhead = 192
	argOverhead   = 1
)

// encodedSize is at least the size of the spec encoded as JSON, counted
// without encoding it.
func (s *JobSpec) encodedSize() int {
	n := specOverhead + jsonLen(s.ID) + jsonLen(s.App)
	for _, a := range s.Args {
		n += argOverhead + jsonLen(a)
	}
	for _, in := range s.Inputs {
		n += inputOverhead + jsonLen(in.Name) + jsonLen(in.Object) + jsonLen(in.Path) + jsonLen(in.Digest)
	}
	return n
}

// jsonLen is at least the bytes encoding/json takes for s, quotes
// included: it escapes quotes, backslashes, control characters, <, >, &,
// U+2028 and U+2029, and turns invalid UTF-8 into \ufffd.
func jsonLen(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				n += 2
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1, r == '\u2028', r == '\u2029':
			n += 6
		default:
			n += size
		}
		i += size
	}
	return n
}
