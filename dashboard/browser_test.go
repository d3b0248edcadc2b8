package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"

	"github.com/drover-dev/drover/broker/brokertest"

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

// drawnScript marks in the page's performance timeline when the frame
// after the page's load was painted, the timeline in it: a task queued by
// the first animation frame after load runs once that frame is drawn.
const drawnScript = `addEventListener("load", () => requestAnimationFrame(() => setTimeout(() => performance.mark("drawn"))))`

// metrics are the renderer's counters of work (Performance.getMetrics),
// in seconds of CPU time of its main thread ("threadTicks"), and of CPU
// time of its whole process (ProcessTime).
func metrics(ctx context.Context) (map[string]float64, error) {
	return chromedp.Run(ctx, func(ctx context.Context, t *chromedp.Target) (map[string]float64, error) {
		res, err := cdp.Call(ctx, t, performance.GetMetrics, cdp.Empty{})
		if err != nil {
			return nil, err
		}
		m := map[string]float64{}
		for _, x := range res.Metrics {
			m[x.Name] = x.Value
		}
		return m, nil
	})
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
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
	var served atomic.Int64 // CPU time spent serving the big page
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := cpuTime()
		h.ServeHTTP(w, r)
		if r.URL.Path == "/jobs/big" {
			served.Store(int64(cpuTime() - before))
		}
	}))
	t.Cleanup(srv.Close)
	err = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		if _, err := cdp.Call(ctx, tg, performance.Enable, performance.EnableParams{TimeDomain: performance.EnableTimeDomainThreadTicks}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: drawnScript})
		return err
	}), chromedp.Navigate(srv.URL+"/jobs"))
	if err != nil {
		t.Fatal(err)
	}
	before, err := metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/jobs/big"), chromedp.WaitVisible("svg.timeline")); err != nil {
		t.Fatal(err)
	}
	type timing struct {
		Runs, Rows, Elements         int
		Response, Server, Drawn, DOM float64
		Bytes, Body                  int
	}
	var got timing
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		got, err = chromedp.Run(ctx, chromedp.Evaluate[timing](`(() => {
			const n = performance.getEntriesByType("navigation")[0], drawn = performance.getEntriesByName("drawn")[0];
			const data = JSON.parse(document.querySelector("script.timeline-runs").textContent);
			return {Runs: data.rows.flat().length, Rows: document.querySelectorAll("#task-table tbody tr").length,
				Elements: document.getElementsByTagName("*").length,
				Server: n.responseStart - n.requestStart, Response: n.responseEnd - n.startTime,
				Drawn: drawn ? drawn.startTime - n.startTime : 0, DOM: n.domContentLoadedEventEnd - n.responseEnd,
				Bytes: n.transferSize, Body: n.decodedBodySize};
		})()`))
		return err == nil && got.Drawn > 0
	}, "the page to mark when it was drawn (%v)", err)
	after, err := metrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := 5000 + 400; got.Runs != want || got.Rows != 400 {
		t.Errorf("page shows %d runs and %d attempt rows, want %d runs and the 400 runs of the 200 tasks run twice", got.Runs, got.Rows, want)
	}
	cpu := func(name string) float64 { return 1000 * (after[name] - before[name]) }
	t.Logf("a job page of 5,000 tasks (%d runs, %d elements): %.0f ms to its last byte, %.0f ms to load with its timeline drawn (%.0f ms of parsing after the last byte); %d bytes (%d uncompressed)",
		got.Runs, got.Elements, got.Response, got.Drawn, got.DOM, got.Bytes, got.Body)
	t.Logf("CPU: server %.0f ms; browser process %.0f ms, main thread %.0f ms (layout %.0f ms, style %.0f ms, script %.0f ms, tasks %.0f ms)",
		float64(served.Load())/1e6, cpu("ProcessTime"), cpu("ThreadTime"), cpu("LayoutDuration"), cpu("RecalcStyleDuration"), cpu("ScriptDuration"), cpu("TaskDuration"))
}

// TestTimelineTooltip: the pointer on a bar shows that run's tooltip, its
// job's text as text, and off the bars it hides.
func TestTimelineTooltip(t *testing.T) {
	ctx := browsertest.New(t, 60*time.Second)
	src := &dashboardtest.Source{}
	job := hostileJob()
	src.Add(job)
	srv := httptest.NewServer(newHandler(t, src))
	t.Cleanup(srv.Close)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/jobs/"+url.PathEscape(job.Status.ID)), chromedp.WaitVisible("svg.timeline")); err != nil {
		t.Fatal(err)
	}
	type box struct{ Left, Top float64 }
	svg, err := chromedp.Run(ctx, chromedp.Evaluate[box](`(() => { const r = document.querySelector("svg.timeline").getBoundingClientRect(); return {Left: r.left, Top: r.top}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	type tip struct {
		Text     string
		Shown    bool
		Elements int
	}
	tipAt := func(x, y float64) tip {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, svg.Left+x, svg.Top+y)); err != nil {
			t.Fatal(err)
		}
		got, err := chromedp.Run(ctx, chromedp.Evaluate[tip](`(() => { const t = document.querySelector(".tip");
			return t ? {Text: t.textContent, Shown: !t.hidden, Elements: t.childElementCount} : {}; })()`))
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// The job ran 3 s; its one run, on the first row, from 1 s to 2 s.
	got := tipAt(180+1000*1.5/3, 30)
	want := "map 0, attempt 1 on w" + hostile + ": failed after 1s: failure" + hostile
	if !got.Shown || got.Text != want || got.Elements != 0 {
		t.Errorf("tooltip on the bar = %+v, want %q shown, as text", got, want)
	}
	if got := tipAt(180+1000*2.5/3, 30); got.Shown {
		t.Errorf("tooltip off the bars = %+v, want hidden", got)
	}
}
