package dashboard_test

import (
	"net/http/httptest"
	"testing"

	"github.com/drover-dev/drover/dashboard/dashboardtest"
)

// BenchmarkJobPage5000Tasks renders the page of a job of 5,000 tasks, as
// it is and gzipped for a browser.
func BenchmarkJobPage5000Tasks(b *testing.B) {
	src := &dashboardtest.Source{}
	src.Add(bigJob("big", 4000, 1000))
	h := newHandler(b, src)
	for _, enc := range []string{"identity", "gzip"} {
		b.Run(enc, func(b *testing.B) {
			size := 0
			for b.Loop() {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest("GET", "/jobs/big", nil)
				req.Header.Set("Accept-Encoding", enc)
				h.ServeHTTP(rec, req)
				size = rec.Body.Len()
			}
			b.ReportMetric(float64(size), "page-bytes")
		})
	}
}
