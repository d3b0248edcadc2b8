//go:build linux

package apps_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

// liveGroup returns the processes of group pgid that still run: the
// zombies of killed ones, which nobody may reap here, are dead.
func liveGroup(pgid int) []string {
	entries, _ := os.ReadDir("/proc")
	var live []string
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		i := bytes.LastIndexByte(data, ')')
		if err != nil || i < 0 {
			continue
		}
		// pid (comm) state ppid pgrp ...
		f := strings.Fields(string(data[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[0] != "X" && f[2] == strconv.Itoa(pgid) {
			live = append(live, e.Name()+" "+string(data[:i+1]))
		}
	}
	return live
}

// waitFor polls cond until it holds, and reports an error to t if it
// does not within d. It may be called from any goroutine.
func waitFor(t *testing.T, d time.Duration, cond func() bool, what string) bool {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Errorf("no %s after %v", what, d)
			return false
		}
	}
	return true
}

// groupUp waits for the file where a command wrote its shell's process
// ID, its process group's, and for the group to have n processes.
func groupUp(t *testing.T, file string, n int) bool {
	t.Helper()
	return waitFor(t, 10*time.Second, func() bool {
		data, err := os.ReadFile(file)
		if err != nil || !bytes.HasSuffix(data, []byte("\n")) {
			return false
		}
		pgid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		return len(liveGroup(pgid)) >= n
	}, "command with its children")
}

// TestStreamingKillsTheWholeGroup: a task's end (its deadline, a
// cancellation, the worker stopping) kills the command and every process
// it started, even one that ignores SIGTERM, and the task ends at once.
// A command that exits leaving a process behind holding its output ends
// its task at once too, with that process killed.
func TestStreamingKillsTheWholeGroup(t *testing.T) {
	tests := []struct {
		name    string
		mapper  string // %s: the file for the shell's process ID
		timeout time.Duration
		wantErr error // nil: the task succeeds
		within  time.Duration
	}{
		{"cancelled", `sleep 1000 & sleep 1000 & echo $$ >%s; sleep 1000; cat`, 0, context.Canceled, time.Second},
		{"deadline", `sleep 1000 & echo $$ >%s; sleep 1000; cat`, time.Second, context.DeadlineExceeded, time.Second},
		{"ignores SIGTERM", `trap '' TERM; sleep 1000 & sleep 1000 & echo $$ >%s; sleep 1000; cat`, 0, context.Canceled, 1500 * time.Millisecond},
		{"leaves a child", `sleep 1000 & sleep 1000 & echo $$ >%s; cat`, 0, nil, time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "pgid")
			app := streaming(t, true, strings.ReplaceAll(tt.mapper, "%s", file), "cat").(mr.SplitMapper)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tt.timeout > 0 {
				ctx, cancel = context.WithTimeout(ctx, tt.timeout)
				defer cancel()
			}
			// The input comes once the group is up, so that the command
			// cannot exit before.
			var ended time.Time // the task's end, or the command's input's
			recs := func(yield func(mr.Record, error) bool) {
				if !groupUp(t, file, 3) {
					return
				}
				ended = time.Now()
				if tt.timeout == 0 && tt.wantErr != nil {
					cancel()
				}
				yield(mr.Record{Text: "line"}, nil)
			}
			var emitted []string
			done := make(chan error, 1)
			go func() {
				done <- app.MapSplit(ctx, recs, func(k, v string) error { emitted = append(emitted, k); return nil })
			}()
			var err error
			select {
			case err = <-done:
			case <-time.After(time.Minute):
				t.Fatal("MapSplit did not return")
			}
			if deadline, ok := ctx.Deadline(); ok && deadline.After(ended) {
				ended = deadline
			}
			took := time.Since(ended)
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("MapSplit = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr == nil && strings.Join(emitted, ",") != "line" {
				t.Errorf("MapSplit emitted %q, want the line", emitted)
			}
			data, _ := os.ReadFile(file)
			pgid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			if !waitFor(t, 2*time.Second, func() bool { return len(liveGroup(pgid)) == 0 }, "empty process group") {
				return
			}
			if took > tt.within {
				t.Errorf("MapSplit returned %v after the task's end, want within %v", took, tt.within)
			}
		})
	}
}

// TestStreamingGroupLeftBehind: a process that leaves the command's group
// and holds its output open fails the attempt, soon, rather than hold the
// task until it exits.
func TestStreamingGroupLeftBehind(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid to leave a process group with")
	}
	left := filepath.Join(t.TempDir(), "left")
	app := streaming(t, true, `setsid sh -c 'touch `+left+`; exec sleep 5' & while [ ! -e `+left+` ]; do sleep 0.01; done; cat`, "cat").(mr.SplitMapper)
	start := time.Now()
	err := app.MapSplit(context.Background(), func(func(mr.Record, error) bool) {}, func(string, string) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "left its process group") || time.Since(start) > 4*time.Second {
		t.Errorf("MapSplit = %v after %v, want the processes that left the group named, within seconds", err, time.Since(start))
	}
}
