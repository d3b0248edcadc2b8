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
	"github.com/chromedp/cdproto/systeminfo"
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

// maxPageCPU bounds the work of the page of a job of 5,000 tasks: the
// CPU time of the server that renders it and of the browser's renderer
// and GPU processes that parse, lay out and paint it until its timeline
// is drawn. On a machine that does nothing else, the page shows within
// about that time (a part of that work runs on threads of its own, in
// parallel); on a busy one, a page waits for the CPU as long as the
// others make it wait, which is not the page's doing.
const maxPageCPU = time.Second

// rendererMetrics are the renderer's counters (Performance.getMetrics):
// ProcessTime is the CPU time of its process; ThreadTime and the
// durations of layout, style, script and tasks are CPU time of its main
// thread (the "threadTicks" time domain), in seconds.
func rendererMetrics(ctx context.Context) (map[string]float64, error) {
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

// gpuCPU is the CPU time of the browser's GPU process, which composites
// and shows the frames, in seconds.
func gpuCPU(ctx context.Context) (float64, error) {
	res, err := cdp.Call(ctx, chromedp.FromContext(ctx).Browser, systeminfo.GetProcessInfo, cdp.Empty{})
	if err != nil {
		return 0, err
	}
	sum := 0.0
	for _, p := range res.ProcessInfo {
		if p.Type == "GPU" {
			sum += p.CPUTime
		}
	}
	return sum, nil
}

// cpuTime is the CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestTimelineOf5000TasksInBrowser loads the page of a job of 5,000
// tasks in Chromium until its timeline is drawn, the figures of the
// README, and bounds the work that takes by maxPageCPU: CPU time, which
// a busy machine does not stretch as it stretches the time on the clock
// (logged too). A test binary built with -race serves the page several
// times slower than the dashboard does: there the server's part is
// logged, not counted, and BenchmarkJobPage5000Tasks measures it.
func TestTimelineOf5000TasksInBrowser(t *testing.T) {
	ctx := browsertest.New(t, 60*time.Second)
	src := &dashboardtest.Source{}
	src.Add(bigJob("big", 4000, 1000))
	h, err := dashboard.New(dashboard.Config{Source: src})
	if err != nil {
		t.Fatal(err)
	}
	var served atomic.Int64 // the CPU time of serving the big page
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		before := cpuTime()
		h.ServeHTTP(w, r)
		if r.URL.Path == "/jobs/big" {
			served.Store(int64(cpuTime() - before))
		}
	}))
	t.Cleanup(srv.Close)
	// A first page starts the renderer of the server's origin and
	// caches the style and script, as a user's first visit would.
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
	before, err := rendererMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gpuBefore, err := gpuCPU(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/jobs/big")); err != nil {
		t.Fatal(err)
	}
	type timing struct {
		Runs, Rows, Elements    int
		Drawing                 int // elements of the timeline
		Response, Drawn, Parsed float64
		Bytes, Body             int
	}
	var got timing
	brokertest.WaitFor(t, 30*time.Second, func() bool {
		got, err = chromedp.Run(ctx, chromedp.Evaluate[timing](`(() => {
			const n = performance.getEntriesByType("navigation")[0], drawn = performance.getEntriesByName("drawn")[0];
			if (!n || !drawn) { return {}; }
			const data = JSON.parse(document.querySelector("script.timeline-runs").textContent);
			return {Runs: data.rows.flat().length, Rows: document.querySelectorAll("#task-table tbody tr").length,
				Elements: document.getElementsByTagName("*").length, Drawing: document.querySelectorAll("svg.timeline *").length,
				Response: n.responseEnd - n.startTime, Drawn: drawn.startTime - n.startTime, Parsed: n.domContentLoadedEventEnd - n.responseEnd,
				Bytes: n.transferSize, Body: n.decodedBodySize};
		})()`))
		return err == nil && got.Drawn > 0
	}, "the page to mark when it was drawn (%v)", err)
	after, err := rendererMetrics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gpuAfter, err := gpuCPU(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := 5000 + 400; got.Runs != want || got.Rows != 400 {
		t.Errorf("page shows %d runs and %d attempt rows, want %d runs and the 400 runs of the 200 tasks run twice", got.Runs, got.Rows, want)
	}
	// A bar is not an element: the timeline is its rows' names, the
	// axis, and a path and its title per kind of bar.
	if got.Drawing > 500 {
		t.Errorf("the timeline of 5,400 runs has %d elements, want at most 500", got.Drawing)
	}
	used := func(name string) time.Duration {
		d := after[name] - before[name]
		if d < 0 { // a renderer of its own: all it did
			d = after[name]
		}
		return time.Duration(d * float64(time.Second)).Round(time.Millisecond)
	}
	server := time.Duration(served.Load()).Round(time.Millisecond)
	renderer, gpu := used("ProcessTime"), time.Duration((gpuAfter-gpuBefore)*float64(time.Second)).Round(time.Millisecond)
	t.Logf("a job page of 5,000 tasks (%d runs, %d elements of which %d draw the timeline, %d bytes, %d uncompressed): on the clock, %.0f ms to its last byte, %.0f ms to its timeline drawn (%.0f ms to parse after the last byte)",
		got.Runs, got.Elements, got.Drawing, got.Bytes, got.Body, got.Response, got.Drawn, got.Parsed)
	t.Logf("CPU time: server %v; renderer %v, of which its main thread %v (layout %v, style %v, script %v); GPU process %v",
		server, renderer, used("ThreadTime"), used("LayoutDuration"), used("RecalcStyleDuration"), used("ScriptDuration"), gpu)
	work, counted := renderer+gpu, "the browser's renderer and GPU processes"
	if !raceEnabled {
		work, counted = work+server, "the server and "+counted
	}
	if work > maxPageCPU {
		t.Errorf("the page of 5,000 tasks took %v of CPU time of %s to draw its timeline, want under %v", work, counted, maxPageCPU)
	}
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
