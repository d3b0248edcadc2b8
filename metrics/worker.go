package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of a worker's attempt, the values of the outcome label.
const (
	OutcomeCommitted  = "committed"   // it committed first
	OutcomeFailed     = "failed"      // it failed, and said so
	OutcomeStopped    = "stopped"     // another attempt committed first, or its job ended
	OutcomeHandedBack = "handed_back" // the worker stopped, or the bus failed: it runs again
)

// Worker is what a worker counts. Its methods are safe for concurrent
// use; a nil *Worker counts nothing.
type Worker struct {
	slots    prometheus.Gauge
	busy     prometheus.Gauge
	attempts *prometheus.CounterVec   // by phase and outcome
	duration *prometheus.HistogramVec // by phase and app
}

// AttemptBuckets are the attempt duration histogram's buckets, in
// seconds: from an empty task's milliseconds to an hour.
var AttemptBuckets = prometheus.ExponentialBuckets(0.001, 4, 12)

// NewWorker registers a worker's collectors with reg.
func NewWorker(reg prometheus.Registerer) (*Worker, error) {
	w := &Worker{
		slots: prometheus.NewGauge(prometheus.GaugeOpts{Name: "drover_worker_slots", Help: "Tasks the worker runs at once."}),
		busy:  prometheus.NewGauge(prometheus.GaugeOpts{Name: "drover_worker_slots_busy", Help: "Slots running a task now."}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drover_worker_attempts_total",
			Help: "Task attempts the worker ran, by phase and outcome: committed, failed, stopped, handed_back."}, []string{"phase", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "drover_task_attempt_duration_seconds",
			Help: "How long task attempts ran on the worker, from start to commit or failure, by phase and app.", Buckets: AttemptBuckets},
			[]string{"phase", "app"}),
	}
	for _, c := range []prometheus.Collector{w.slots, w.busy, w.attempts, w.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// Slots sets the worker's slots.
func (w *Worker) Slots(n int) {
	if w != nil {
		w.slots.Set(float64(n))
	}
}

// Begin counts a slot busy, until the returned end is called with the
// attempt's outcome; app must be one the worker has registered.
func (w *Worker) Begin(phase, app string) (end func(outcome string)) {
	if w == nil {
		return func(string) {}
	}
	w.busy.Inc()
	start := time.Now()
	return func(outcome string) {
		w.busy.Dec()
		w.attempts.WithLabelValues(phase, outcome).Inc()
		if outcome == OutcomeCommitted || outcome == OutcomeFailed {
			w.duration.WithLabelValues(phase, app).Observe(time.Since(start).Seconds())
		}
	}
}
