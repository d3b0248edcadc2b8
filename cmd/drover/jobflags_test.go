package main

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

// TestJobFlagsSpec: --timeout and --max-attempts reach the job spec, and
// their defaults are the spec's.
func TestJobFlagsSpec(t *testing.T) {
	tests := []struct {
		args        []string
		timeout     time.Duration
		maxAttempts int
	}{
		{nil, mr.DefaultTaskTimeout, mr.DefaultMaxAttempts},
		{[]string{"--timeout", "90s", "--max-attempts", "7"}, 90 * time.Second, 7},
		{[]string{"--timeout", "1s", "--max-attempts", "1"}, time.Second, 1},
	}
	for _, tt := range tests {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		var f jobFlags
		f.register(fs)
		if err := fs.Parse(append([]string{"--app", "wordcount"}, tt.args...)); err != nil {
			t.Fatal(err)
		}
		spec, err := f.spec()
		if err != nil || spec.Timeout != tt.timeout || spec.MaxAttempts != tt.maxAttempts {
			t.Errorf("spec(%q) = timeout %v, max attempts %d, %v; want %v, %d", tt.args, spec.Timeout, spec.MaxAttempts, err, tt.timeout, tt.maxAttempts)
		}
	}
}
