package timesvc_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/timesvc"
)

// BenchmarkSyncBound measures the accuracy of syncs over loopback against
// an embedded broker and a server skewed by 3s, one sync per iteration:
// one sample (the lecture's SyncTime) and the best of DefaultSamples (a
// Clock's resync). It reports the median and 99th percentile of the error
// bound, and the median of the true error, which the skew makes known.
// The README's figures come from
//
//	go test -run '^$' -bench SyncBound -benchtime 1000x ./timesvc/
func BenchmarkSyncBound(b *testing.B) {
	const skew = 3 * time.Second
	srv := brokertest.Start(b)
	serve(b, srv, skewed(skew))
	c := client(b, srv.Connect())
	for _, n := range []int{1, timesvc.DefaultSamples} {
		b.Run(fmt.Sprintf("samples=%d", n), func(b *testing.B) {
			var bounds, misses []time.Duration
			for b.Loop() {
				e, err := timesvc.Measure(context.Background(), c, n, time.Now)
				if err != nil {
					b.Fatal(err)
				}
				if miss := (e.Offset - skew).Abs(); miss > e.Bound {
					b.Fatalf("offset %v ± %v misses the skew %v", e.Offset, e.Bound, skew)
				}
				bounds = append(bounds, e.Bound)
				misses = append(misses, (e.Offset - skew).Abs())
			}
			b.ReportMetric(float64(percentile(bounds, 50)), "bound-ns")
			b.ReportMetric(float64(percentile(bounds, 99)), "p99-bound-ns")
			b.ReportMetric(float64(percentile(misses, 50)), "error-ns")
		})
	}
}

// percentile is the p-th percentile of ds by the nearest rank; it sorts ds.
func percentile(ds []time.Duration, p int) time.Duration {
	slices.Sort(ds)
	return ds[max(0, (len(ds)*p+99)/100-1)]
}
