package metrics_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/drover-dev/drover/metrics"
)

// BenchmarkCountTask is what counting costs one task: the worker's slot,
// attempt and duration, the master's start and commit. Compare its ns/op
// with a task's share of BenchmarkEmptyTasks (internal/local).
func BenchmarkCountTask(b *testing.B) {
	reg := prometheus.NewRegistry()
	w, err := metrics.NewWorker(reg)
	if err != nil {
		b.Fatal(err)
	}
	m, err := metrics.NewMaster(reg, state{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		end := w.Begin("map", "wordcount")
		m.Started("map")
		end(metrics.OutcomeCommitted)
		m.Committed("map", 0)
	}
}
