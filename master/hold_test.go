package master

import (
	"testing"

	"github.com/drover-dev/drover/mr"
)

func TestWaitingFor(t *testing.T) {
	plain := mr.WorkerInfo{ID: "plain", Slots: 1, Apps: []string{"streaming", "wordcount"}}
	exec := mr.WorkerInfo{ID: "exec", Slots: 1, Apps: []string{"streaming"}, Exec: true}
	tests := []struct {
		name    string
		workers []mr.WorkerInfo
		app     string
		exec    bool
		want    string
	}{
		{"a worker has it", []mr.WorkerInfo{plain}, "wordcount", false, ""},
		{"one of two has it", []mr.WorkerInfo{exec, plain}, "wordcount", false, ""},
		{"exec worker for streaming", []mr.WorkerInfo{plain, exec}, "streaming", true, ""},
		{"no worker", nil, "wordcount", false, "waiting for a worker that can run app wordcount: no worker is live"},
		{"no exec worker", []mr.WorkerInfo{plain}, "streaming", true,
			"waiting for a worker started with --allow-exec: app streaming runs commands, and no live worker runs them"},
		{"no worker has the app", []mr.WorkerInfo{plain, exec}, "grep", false, "waiting for a worker that can run app grep: no live worker has it"},
	}
	for _, tt := range tests {
		if got := waitingFor(tt.workers, tt.app, tt.exec); got != tt.want {
			t.Errorf("waitingFor(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
