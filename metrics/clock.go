package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Clock is what NewClock reads: a timesvc.Clock.
type Clock interface {
	Now() time.Time
	Bound() time.Duration
	Synced() bool
}

// NewClock registers the offset of c from the local clock and its error
// bound with reg, read at each scrape; neither is reported before c's
// first sync.
func NewClock(reg prometheus.Registerer, c Clock) error {
	return reg.Register(&clockGauges{c: c})
}

type clockGauges struct{ c Clock }

var (
	offsetDesc = prometheus.NewDesc("drover_timesvc_offset_seconds", "The time service's clock minus this process's, as last synced (Cristian's algorithm).", nil, nil)
	boundDesc  = prometheus.NewDesc("drover_timesvc_bound_seconds", "How far the offset may be off: half the best sample's round trip, plus drift since.", nil, nil)
)

func (g *clockGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- offsetDesc
	ch <- boundDesc
}

func (g *clockGauges) Collect(ch chan<- prometheus.Metric) {
	if !g.c.Synced() {
		return
	}
	ch <- prometheus.MustNewConstMetric(offsetDesc, prometheus.GaugeValue, g.c.Now().Sub(time.Now()).Seconds())
	ch <- prometheus.MustNewConstMetric(boundDesc, prometheus.GaugeValue, g.c.Bound().Seconds())
}
