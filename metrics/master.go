package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Master is what a master counts. Its methods are safe for concurrent
// use; a nil *Master counts nothing.
type Master struct {
	started, committed, failed *prometheus.CounterVec // by phase
	handedBack                 *prometheus.CounterVec // by phase
	retried                    *prometheus.CounterVec // by phase and why
	backupsLaunched            prometheus.Counter
	backupsWon                 prometheus.Counter
	backupsWasted              prometheus.Counter
	mapsReused                 prometheus.Counter
	recordsSkipped             prometheus.Counter
}

// MasterState is what a master reports when scraped.
type MasterState interface {
	// JobsByState counts the jobs the master knows by their state.
	JobsByState() map[string]int
	// QueueDepth is the tasks waiting in the task queue, or false if it
	// cannot be told now.
	QueueDepth() (int, bool)
}

// NewMaster registers a master's collectors with reg; state is asked
// for the gauges at each scrape.
func NewMaster(reg prometheus.Registerer, state MasterState) (*Master, error) {
	byPhase := func(name, help string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{"phase"})
	}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	m := &Master{
		started:   byPhase("drover_tasks_started_total", "Task attempts workers reported started, by phase."),
		committed: byPhase("drover_tasks_committed_total", "Tasks committed (the first commit of each), by phase."),
		failed:    byPhase("drover_tasks_failed_total", "Task attempts workers reported failed, by phase."),
		handedBack: byPhase("drover_tasks_handed_back_total",
			"Task attempts handed back to the queue, to run again as they were, because their worker was found gone, by phase."),
		retried: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "drover_tasks_retried_total",
			Help: "Task attempts published after the first, by phase and why: failed, deadline, backup, recompute, lost."}, []string{"phase", "why"}),
		backupsLaunched: counter("drover_backups_launched_total", "Backup attempts of stragglers published."),
		backupsWon:      counter("drover_backups_won_total", "Tasks whose backup attempt committed first."),
		backupsWasted:   counter("drover_backups_wasted_total", "Tasks with a backup whose original attempt committed first."),
		mapsReused:      counter("drover_maps_reused_total", "Map tasks committed with an earlier job's output, not run."),
		recordsSkipped:  counter("drover_records_skipped_total", "Bad input records that committed map tasks skipped."),
	}
	cs := []prometheus.Collector{m.started, m.committed, m.failed, m.handedBack, m.retried, m.backupsLaunched, m.backupsWon, m.backupsWasted,
		m.mapsReused, m.recordsSkipped, &masterGauges{state: state}}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Started counts an attempt of phase started.
func (m *Master) Started(phase string) {
	if m != nil {
		m.started.WithLabelValues(phase).Inc()
	}
}

// Committed counts a task of phase committed, and the records it
// skipped.
func (m *Master) Committed(phase string, skipped int) {
	if m != nil {
		m.committed.WithLabelValues(phase).Inc()
		m.recordsSkipped.Add(float64(skipped))
	}
}

// Failed counts an attempt of phase failed.
func (m *Master) Failed(phase string) {
	if m != nil {
		m.failed.WithLabelValues(phase).Inc()
	}
}

// HandedBack counts an attempt of phase whose worker was found gone,
// handed back to the queue.
func (m *Master) HandedBack(phase string) {
	if m != nil {
		m.handedBack.WithLabelValues(phase).Inc()
	}
}

// Retried counts an attempt after the first published, and why; a backup
// is a launched backup too.
func (m *Master) Retried(phase, why string) {
	if m == nil {
		return
	}
	m.retried.WithLabelValues(phase, why).Inc()
	if why == "backup" {
		m.backupsLaunched.Inc()
	}
}

// Backups counts tasks whose backup won, or was wasted.
func (m *Master) Backups(won, wasted int) {
	if m != nil {
		m.backupsWon.Add(float64(won))
		m.backupsWasted.Add(float64(wasted))
	}
}

// Reused counts map tasks committed with an earlier job's output.
func (m *Master) Reused(maps int) {
	if m != nil {
		m.mapsReused.Add(float64(maps))
	}
}

// masterGauges asks the master for its gauges at each scrape.
type masterGauges struct{ state MasterState }

var (
	jobsDesc  = prometheus.NewDesc("drover_jobs", "Jobs the master knows, by state.", []string{"state"}, nil)
	queueDesc = prometheus.NewDesc("drover_queue_depth", "Tasks waiting in the task queue (published, not yet acknowledged).", nil, nil)
)

func (g *masterGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- jobsDesc
	ch <- queueDesc
}

func (g *masterGauges) Collect(ch chan<- prometheus.Metric) {
	for state, n := range g.state.JobsByState() {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), state)
	}
	if n, ok := g.state.QueueDepth(); ok {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(n))
	}
}
