package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/drover-dev/drover/mr"
)

// jobFlags are the flags of a job spec that `run` and `submit` share.
type jobFlags struct {
	app         string
	args        stringList
	r           int
	splitSize   int64
	skipBad     bool
	maxSkipped  int
	speculation onOff
	after       float64
	slowdown    float64
	timeout     time.Duration
	maxAttempts int
}

func (f *jobFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.app, "app", "", "the app to run: "+fmt.Sprint(builtinApps().Names()))
	fs.Var(&f.args, "arg", "an argument of the app (repeat for more)")
	fs.IntVar(&f.r, "r", 3, "reduce tasks, and output files")
	fs.Int64Var(&f.splitSize, "split-size", mr.DefaultSplitSize, "bytes of input per map task")
	fs.BoolVar(&f.skipBad, "skip-bad-records", false, "skip an input record on which two attempts of a map failed")
	fs.IntVar(&f.maxSkipped, "max-skipped-records", mr.DefaultMaxSkippedRecords, "with --skip-bad-records, the most records one map task may skip before the job fails")
	fs.DurationVar(&f.timeout, "timeout", mr.DefaultTaskTimeout, "how long one attempt of a task may run before it is given up and tried again")
	fs.IntVar(&f.maxAttempts, "max-attempts", mr.DefaultMaxAttempts, "attempts of one task that may fail before the job fails")
	fs.Var(&f.speculation, "speculation", "on or off: run backup attempts of stragglers near the end of a phase (default off)")
	fs.Float64Var(&f.after, "speculation-after", mr.DefaultSpeculationAfter,
		"with speculation, the fraction of a phase's tasks that must have finished before any backup")
	fs.Float64Var(&f.slowdown, "speculation-slowdown", mr.DefaultSpeculationSlowdown,
		"with speculation, a task gets a backup when it has run, and expects to run, this many times as long as its finished peers took")
}

// spec is the job these flags describe, without its inputs, or a usage
// error naming the first flag out of its bounds.
func (f *jobFlags) spec() (mr.JobSpec, error) {
	switch {
	case f.app == "":
		return mr.JobSpec{}, usagef("--app is required")
	case f.r < 1 || f.r > mr.MaxR:
		return mr.JobSpec{}, usagef("-r %d: want 1 to %d reduce tasks", f.r, mr.MaxR)
	case f.splitSize < mr.MinSplitSize || f.splitSize > mr.MaxSplitSize:
		return mr.JobSpec{}, usagef("--split-size %d: want %d to %d bytes", f.splitSize, mr.MinSplitSize, mr.MaxSplitSize)
	case f.after < 0 || f.after > 1:
		return mr.JobSpec{}, usagef("--speculation-after %v: want a fraction from 0 to 1", f.after)
	case f.maxSkipped < 1 || f.maxSkipped > mr.MaxSkippedRecordsCeiling:
		return mr.JobSpec{}, usagef("--max-skipped-records %d: want 1 to %d", f.maxSkipped, mr.MaxSkippedRecordsCeiling)
	case f.timeout < mr.MinTimeout || f.timeout > mr.MaxTimeout:
		return mr.JobSpec{}, usagef("--timeout %v: want %v to %v", f.timeout, mr.MinTimeout, mr.MaxTimeout)
	case f.maxAttempts < 1 || f.maxAttempts > mr.MaxAttemptsCeiling:
		return mr.JobSpec{}, usagef("--max-attempts %d: want 1 to %d", f.maxAttempts, mr.MaxAttemptsCeiling)
	case f.slowdown < 1:
		return mr.JobSpec{}, usagef("--speculation-slowdown %v: want 1 or more", f.slowdown)
	}
	spec := mr.JobSpec{App: f.app, Args: f.args, R: f.r, SplitSize: f.splitSize, SkipBadRecords: f.skipBad, MaxSkippedRecords: f.maxSkipped,
		Speculation: bool(f.speculation), SpeculationAfter: f.after, SpeculationSlowdown: f.slowdown, Timeout: f.timeout, MaxAttempts: f.maxAttempts}
	if err := spec.ValidateForm(); err != nil { // the arguments' bounds, before any input is read
		var field *mr.SpecError
		if errors.As(err, &field) && field.Field != "inputs" {
			return mr.JobSpec{}, usagef("%v", err)
		}
	}
	return spec, nil
}

// inputFile is the file an input names, which must be a regular file: a
// directory cannot be split, and a FIFO or a device would block the
// upload or never end.
func inputFile(path string) (os.FileInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("input %s is not a regular file", path)
	}
	return st, nil
}

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return fmt.Sprint(*s) }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// onOff is a flag of on or off (true and false are taken too).
type onOff bool

func (b *onOff) String() string {
	if *b {
		return "on"
	}
	return "off"
}

func (b *onOff) Set(v string) error {
	switch v {
	case "on", "true", "1":
		*b = true
	case "off", "false", "0":
		*b = false
	default:
		return fmt.Errorf("want on or off, not %q", v)
	}
	return nil
}
