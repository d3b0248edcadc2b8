package dashboard_test

import (
	"net/http/httptest"
	"testing"

	"github.com/drover-dev/drover/dashboard/dashboardtest"
)

// BenchmarkJobPage5000Tasks renders the page of a job of 5,000 tasks.
func BenchmarkJobPage5000Tasks(b *testing.B) {
	src := &dashboardtest.Source{}
	src.Add(bigJob("big", 4000, 1000))
	h := newHandler(b, src)
	size := 0
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/jobs/big", nil))
		size = rec.Body.Len()
	}
	b.ReportMetric(float64(size), "page-bytes")
}
