package rpcq

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics are a server's Prometheus collectors (ServerConfig.Metrics).
// A nil *serverMetrics counts nothing.
type serverMetrics struct {
	calls      *prometheus.CounterVec   // by service, method, code, mode
	latency    *prometheus.HistogramVec // by service, method
	duplicates *prometheus.CounterVec   // by service, method

	reg     prometheus.Registerer
	entries prometheus.Collector // this server's, unregistered by Shutdown
}

// Buckets of the call latency histogram, in seconds: from a local call's
// tens of microseconds to a slow handler's seconds.
var latencyBuckets = prometheus.ExponentialBuckets(50e-6, 4, 10)

// newServerMetrics registers the collectors of server s with reg. Several
// servers of a process share the call counters (a collector already there
// is used); each adds its duplicate table's size, labelled with its
// service.
func newServerMetrics(reg prometheus.Registerer, s *Server) (*serverMetrics, error) {
	m := &serverMetrics{
		reg: reg,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_rpcq_calls_total",
			Help: "rpcq calls answered, by service, method, reply code (0 for success) and delivery mode.",
		}, []string{"service", "method", "code", "mode"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "drover_rpcq_call_duration_seconds",
			Help:    "Time from a request's arrival to its reply, by service and method.",
			Buckets: latencyBuckets,
		}, []string{"service", "method"}),
		duplicates: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "drover_rpcq_duplicates_total",
			Help: "Duplicate calls answered with the reply the duplicate table saved, by service and method.",
		}, []string{"service", "method"}),
	}
	var err error
	if m.calls, err = registerShared(reg, m.calls); err != nil {
		return nil, err
	}
	if m.latency, err = registerShared(reg, m.latency); err != nil {
		return nil, err
	}
	if m.duplicates, err = registerShared(reg, m.duplicates); err != nil {
		return nil, err
	}
	m.entries = prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "drover_rpcq_table_entries",
		Help:        "Calls the service's duplicate table remembers.",
		ConstLabels: prometheus.Labels{"service": s.cfg.Name},
	}, func() float64 { return float64(s.Stats().Entries) })
	if err := reg.Register(m.entries); err != nil {
		return nil, err
	}
	return m, nil
}

// unregister removes the server's own collector, so that a server of the
// same service started later (a master's next term) can register its own.
func (x *serverMetrics) unregister() {
	if x != nil {
		x.reg.Unregister(x.entries)
	}
}

// registerShared registers c, or returns the collector like it that is
// registered already.
func registerShared[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// observe counts one answered call of m.
func (x *serverMetrics) observe(service string, m *method, code int, start time.Time) {
	if x == nil {
		return
	}
	x.calls.WithLabelValues(service, m.name, strconv.Itoa(code), m.mode.String()).Inc()
	x.latency.WithLabelValues(service, m.name).Observe(time.Since(start).Seconds())
}

// duplicate counts a duplicate of m answered from the table.
func (x *serverMetrics) duplicate(service string, m *method) {
	if x == nil {
		return
	}
	x.duplicates.WithLabelValues(service, m.name).Inc()
}
