package dashboard_test

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drover-dev/drover/dashboard"
	"github.com/drover-dev/drover/dashboard/dashboardtest"
	"github.com/drover-dev/drover/internal/browsertest"
	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// bigJob is an ended job of maps+reduces tasks run by 25 workers of 4
// slots, each task once, a tenth of the maps with a backup.
func bigJob(id string, maps, reduces int) dashboard.JobData {
	d := dashboard.JobData{Status: master.JobStatus{ID: id, App: "wordcount", State: master.JobDone, Maps: maps, MapsDone: maps,
		Reduces: reduces, ReduceDone: reduces, Submitted: t0.UnixNano()}}
	const slots = 100
	now := t0
	add := func(phase mr.Phase, i int, backup bool) {
		worker := fmt.Sprintf("worker-%02d", i%slots/4)
		start := now.Add(time.Duration(i/slots) * 300 * time.Millisecond)
		end := start.Add(250 * time.Millisecond)
		attempt := 1
		if backup {
			d.Records = append(d.Records, dashboard.Record{At: start, Event: mr.Event{Kind: mr.EventStarted, Job: id, Phase: phase, Index: i, Attempt: 1, Worker: worker}},
				dashboard.Record{At: start.Add(100 * time.Millisecond), Event: mr.Event{Kind: mr.EventPublished, Job: id, Phase: phase, Index: i, Attempt: 2, Why: "backup"}})
			attempt, worker, start = 2, fmt.Sprintf("worker-%02d", (i+1)%slots/4), start.Add(100*time.Millisecond)
		}
		d.Records = append(d.Records, dashboard.Record{At: start, Event: mr.Event{Kind: mr.EventStarted, Job: id, Phase: phase, Index: i, Attempt: attempt, Worker: worker}})
		d.Commits = append(d.Commits, mr.Commit{Job: id, Phase: phase, Index: i, Attempt: attempt, Worker: worker, At: end.UnixNano()})
	}
	for i := range maps {
		add(mr.PhaseMap, i, i%10 == 9)
	}
	now = now.Add(time.Duration(maps/slots+1) * 300 * time.Millisecond)
	for i := range reduces {
		add(mr.PhaseReduce, i, false)
	}
	d.Status.Ended = now.Add(time.Duration(reduces/slots+1) * 300 * time.Millisecond).UnixNano()
	return d
}

// TestTimelineOf5000TasksInBrowser loads the page of a job of 5,000
// tasks in Chromium and reports how long the page took to load, its
// timeline drawn: the figure of the README.
func TestTimelineOf5000TasksInBrowser(t *testing.T) {
	ctx := browsertest.New(t, 60*time.Second)
	src := &dashboardtest.Source{}
	src.Add(bigJob("big", 4000, 1000))
	h, err := dashboard.New(dashboard.Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/jobs/big"), chromedp.WaitVisible("svg.timeline")); err != nil {
		t.Fatal(err)
	}
	type timing struct {
		Bars, Rows            int
		Response, Loaded, DOM float64
		Bytes                 int
	}
	got, err := chromedp.Run(ctx, chromedp.Evaluate[timing](`(() => {
		const n = performance.getEntriesByType("navigation")[0];
		return {DOM: n.domContentLoadedEventEnd - n.responseEnd, Bars: document.querySelectorAll("svg.timeline rect").length,
			Rows: document.querySelectorAll("#task-table tbody tr").length,
			Response: n.responseEnd - n.startTime, Loaded: n.loadEventEnd - n.startTime, Bytes: n.transferSize};
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if want := 5000 + 400; got.Bars != want || got.Rows != 400 {
		t.Errorf("page shows %d bars and %d attempt rows, want %d bars and the 400 runs of the 200 tasks run twice", got.Bars, got.Rows, want)
	}
	t.Logf("a job page of 5,000 tasks (%d runs): %.0f ms to its last byte, %.0f ms to load with its timeline drawn (%.0f ms of parsing after the last byte); %d bytes",
		got.Bars, got.Response, got.Loaded, got.DOM, got.Bytes)
	// The browser's part alone is bounded: the server's, in a test
	// binary built with -race on a busy machine, varies tenfold.
	if browser := got.Loaded - got.Response; browser > 3000 {
		t.Errorf("the page of 5,000 tasks took %.0f ms to load after its last byte, want well under 3 s", browser)
	}
}
