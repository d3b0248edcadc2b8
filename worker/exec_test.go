//go:build linux

package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/worker"
)

// liveGroup counts the processes of group pgid that still run: the
// zombies of killed ones, which nobody may reap here, are dead.
func liveGroup(pgid int) int {
	entries, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		i := bytes.LastIndexByte(data, ')')
		if err != nil || i < 0 {
			continue
		}
		f := strings.Fields(string(data[i+1:])) // state ppid pgrp ...
		if len(f) >= 3 && f[0] != "Z" && f[0] != "X" && f[2] == strconv.Itoa(pgid) {
			n++
		}
	}
	return n
}

// TestStreamingTaskEndsWithItsProcesses: a streaming map whose command
// and its children would run for a thousand seconds ends, with every
// process of its group, soon after its job is cancelled (its message
// purged from the queue, as the master does), its deadline passes, or
// its worker stops; and the slot takes the next task.
func TestStreamingTaskEndsWithItsProcesses(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		end     func(e *env, stop context.CancelFunc, job string)
	}{
		{"job cancelled", time.Minute, func(e *env, _ context.CancelFunc, job string) {
			if err := e.store.Tasks.Purge(e.ctx, jetstream.WithPurgeSubject(mr.JobTaskSubjects(job))); err != nil {
				e.t.Fatal(err)
			}
		}},
		{"deadline", 2 * time.Second, func(*env, context.CancelFunc, string) {}},
		{"worker stopped", time.Minute, func(_ *env, stop context.CancelFunc, _ string) { stop() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, _, store := mrtest.Start(t, 3*time.Second)
			e := &env{t: t, ctx: ctx, store: store, apps: apps.Registry(true)}
			w, err := worker.New(store, worker.Config{Slots: 1, Apps: e.apps, AllowExec: true, Logger: slog.New(slog.DiscardHandler), SharedRoots: []string{os.TempDir()}})
			if err != nil {
				t.Fatal(err)
			}
			runCtx, stop := context.WithCancel(ctx)
			stopped := make(chan struct{})
			go func() { w.Run(runCtx); close(stopped) }()
			defer func() { stop(); <-stopped }()

			dir := t.TempDir()
			input := filepath.Join(dir, "in.txt")
			os.WriteFile(input, []byte("a line\n"), 0o644)
			pidFile := filepath.Join(dir, "pgid")
			mapper := fmt.Sprintf(`sleep 1000 & sleep 1000 & echo $$ >%s; sleep 1000; cat`, pidFile)
			task := func(job string, args []string) mr.Task {
				return mr.Task{Job: job, Phase: mr.PhaseMap, App: "streaming", Args: args, R: 1, Timeout: tt.timeout,
					Input: &mr.Input{Name: "in.txt", Path: input, Size: 7}, Split: mr.Split{End: 7}}
			}
			e.publish(task("held", []string{mapper, "cat"}))

			var pgid int
			brokertest.WaitFor(t, 30*time.Second, func() bool {
				data, err := os.ReadFile(pidFile)
				pgid, _ = strconv.Atoi(strings.TrimSpace(string(data)))
				return err == nil && bytes.HasSuffix(data, []byte("\n")) && liveGroup(pgid) == 4
			}, "the mapper and its three children")
			ended := time.Now()
			if tt.name == "deadline" { // it began before its processes were up
				ended = ended.Add(tt.timeout)
			}
			tt.end(e, stop, "held")
			brokertest.WaitFor(t, 10*time.Second, func() bool { return liveGroup(pgid) == 0 }, "the mapper's process group to end")
			// A heartbeat (mr.ProgressEvery) notices the cancellation.
			if took := time.Since(ended); took > 2*time.Second {
				t.Errorf("the mapper's processes ended %v after the task's end, want within 2s", took)
			}
			if tt.name == "worker stopped" {
				select {
				case <-stopped:
				case <-time.After(2 * time.Second):
					t.Fatal("the worker still runs 2s after it was stopped")
				}
				return
			}
			e.publish(task("next", []string{"cat", "cat"}))
			e.waitCommits("next", mr.PhaseMap, 1)
			if tt.name == "deadline" {
				cons, err := e.store.Events.OrderedConsumer(e.ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{mr.EventSubject("held", mr.EventFailed)}})
				if err != nil {
					t.Fatal(err)
				}
				msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
				if err != nil {
					t.Fatalf("no failed event: %v", err)
				}
				var ev mr.Event
				json.Unmarshal(msg.Data(), &ev)
				if !strings.Contains(ev.Error, "deadline exceeded") {
					t.Errorf("failed event's error %q, want it to name the deadline", ev.Error)
				}
			}
		})
	}
}
