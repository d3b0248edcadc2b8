package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/dashboard"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
	"github.com/drover-dev/drover/rpcq"
)

// maxJobsPageBytes bounds the jobs page, whatever the number of jobs.
const maxJobsPageBytes = 1 << 20

// endedJobs stores n ended jobs in the jobs bucket, as a master stores
// them, with markup in their errors, and starts a master that loads them;
// it returns a dashboard on that master and a client of it.
func endedJobs(tb testing.TB, n int) (*dashboard.Handler, *rpcq.Client) {
	tb.Helper()
	ctx, b, store := mrtest.Start(tb, 3*time.Second)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				id := fmt.Sprintf("20261201-%06d-%06x", i, i)
				submitted := t0.Add(time.Duration(i) * time.Second)
				rec := map[string]any{
					"spec":  mr.JobSpec{ID: id, App: "wordcount", R: 3, Inputs: []mr.Input{{Name: "in.txt", Path: "/data/in.txt", Size: 100}}},
					"state": master.JobFailed, "error": strings.Repeat("<b>failed</b> ", 40),
					"submitted": submitted.UnixNano(), "ended": submitted.Add(time.Second).UnixNano(),
				}
				data, _ := json.Marshal(rec)
				if _, err := store.Jobs.Put(ctx, id, data); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		tb.Fatal(err)
	}
	m, err := master.New(b.Connect(), store, master.Config{Apps: mrtest.Registry(), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { m.Run(runCtx); close(done) }()
	tb.Cleanup(func() { cancel(); <-done })
	nc := b.Connect()
	client, err := rpcq.NewClient(nc, rpcq.ClientConfig{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	src, err := dashboard.NewJetStream(dashboard.JetStreamConfig{Conn: nc, Client: client})
	if err != nil {
		tb.Fatal(err)
	}
	brokertest.WaitFor(tb, time.Minute, func() bool {
		var page master.ListPage
		err := client.Call(ctx, "Master.ListPage", master.ListArgs{}, &page)
		return err == nil && len(page.Jobs) > 0 && page.Jobs[0].ID == fmt.Sprintf("20261201-%06d-%06x", n-1, n-1)
	}, "the master to load %d jobs", n)
	h, err := dashboard.New(dashboard.Config{Source: src, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	return h, client
}

// BenchmarkJobsPage10000Jobs: the first page of the jobs of a master
// that knows 10,000 ended jobs, against its baseline, the master's
// ListPage call that the page makes.
func BenchmarkJobsPage10000Jobs(b *testing.B) {
	h, client := endedJobs(b, 10_000)
	b.Run("ListPage", func(b *testing.B) {
		for b.Loop() {
			var page master.ListPage
			if err := client.Call(context.Background(), "Master.ListPage", master.ListArgs{}, &page); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page", func(b *testing.B) {
		size := 0
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/jobs", nil))
			if rec.Code != 200 {
				b.Fatalf("GET /jobs = %d: %s", rec.Code, rec.Body)
			}
			size = rec.Body.Len()
		}
		if size > maxJobsPageBytes {
			b.Errorf("the jobs page is %d bytes, want at most %d", size, maxJobsPageBytes)
		}
		b.ReportMetric(float64(size), "page-bytes")
	})
}
