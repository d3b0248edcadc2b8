package integration

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/drover-dev/drover/broker/brokertest"
	"github.com/drover-dev/drover/internal/browsertest"
	"github.com/drover-dev/drover/mr"
)

// screenshotsEnv names the directory where TestDashboardInBrowser saves
// its screenshots, when set: the README's come from there.
const screenshotsEnv = "DROVER_SCREENSHOTS"

// startUI runs `drover ui` on a free loopback port and returns its URL.
func startUI(d *deployment) string {
	d.t.Helper()
	p := start(d.t, "drover", "ui", "--nats", d.url, "--http", "127.0.0.1:0", "--refresh", "300ms", "--log-level", "warn")
	re := regexp.MustCompile(`dashboard on (http://\S+)`)
	var url string
	brokertest.WaitFor(d.t, 30*time.Second, func() bool {
		m := re.FindStringSubmatch(p.String())
		if m != nil {
			url = m[1]
		}
		return url != ""
	}, "drover ui to serve (output: %s)", p)
	return url
}

// page is a browser tab on the dashboard.
type page struct {
	t   *testing.T
	ctx context.Context
	ui  string
}

// open navigates to path and marks the page, so that stayed can tell it
// was not loaded again since.
func (p *page) open(path string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(p.ui+path)); err != nil {
		p.t.Fatalf("open %s: %v", path, err)
	}
	p.eval(`window.droverStayed = true`)
}

func (p *page) eval(expr string) any {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[any](expr))
	if err != nil {
		p.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

func (p *page) text(expr string) string {
	p.t.Helper()
	s, _ := p.eval(expr).(string)
	return strings.TrimSpace(s)
}

func (p *page) count(selector string) int {
	p.t.Helper()
	n, _ := p.eval(fmt.Sprintf(`document.querySelectorAll(%q).length`, selector)).(float64)
	return int(n)
}

// waitText waits until the text of the element selector starts with
// want, without a reload of the page.
func (p *page) waitText(selector, want string, within time.Duration) {
	p.t.Helper()
	p.waitLoaded(selector, want, within)
	if p.eval(`window.droverStayed === true`) != true {
		p.t.Errorf("the page was loaded again while waiting for %s to read %q", selector, want)
	}
}

// waitLoaded waits until the text of the element selector starts with
// want, on whichever page the tab shows.
func (p *page) waitLoaded(selector, want string, within time.Duration) {
	p.t.Helper()
	var got string
	brokertest.WaitFor(p.t, within, func() bool {
		got = p.text(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, selector))
		return strings.HasPrefix(got, want)
	}, "%s to read %q (it reads %q)", selector, want, got)
}

// bars are the timeline's bars' tooltips, "map 0, attempt 1 on w1:
// committed after 20ms (backup)", as the page's script shows them.
func (p *page) bars() []string {
	p.t.Helper()
	v, _ := p.eval(`JSON.parse(document.querySelector("script.timeline-runs").textContent).rows.flat().map(b => b[2])`).([]any)
	out := make([]string, len(v))
	for i, s := range v {
		out[i], _ = s.(string)
	}
	return out
}

func (p *page) screenshot(name string, action chromedp.Action[[]byte]) {
	p.t.Helper()
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return
	}
	png, err := chromedp.Run(p.ctx, action)
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// statusLine is the value of a line of `drover status`: "maps" → "6/6".
func statusLine(out, name string) string {
	for _, line := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// TestDashboardInBrowser drives the dashboard of a real deployment in
// Chromium: a straggler's job, followed on the jobs page until it is done
// without a reload, shows its backup on the timeline and agrees with
// `drover status`; a job whose worker is killed, followed on its page,
// shows the lost run and its re-run elsewhere; a third job is cancelled
// from its page.
func TestDashboardInBrowser(t *testing.T) {
	ctx := browsertest.New(t, 2*time.Minute)
	files, _ := books(t)
	d := deploy(t, 0)
	p := &page{t: t, ctx: ctx, ui: startUI(d)}

	// A straggler: the slow worker takes the first map alone, the others
	// come after, and the master backs the straggler up.
	slow := d.startWorkerWith(0, "--slow-factor", "1000")
	straggled := d.submit(files, "--app", "wordcount", "-r", "2", "--speculation", "on")
	d.waitTaken(slow)
	p.open("/jobs")
	d.workers = append(d.workers, slow, d.startWorkerWith(1, "--allow-exec"), d.startWorkerWith(2, "--allow-exec"))
	p.waitText(fmt.Sprintf(`tr[data-job=%q] td.state`, straggled), "done", time.Minute)
	slow.kill() // its map, backed up, would hold its slot a long while

	st := d.status(straggled)
	out := d.droverStatus(straggled)
	p.open("/jobs/" + straggled)
	if got, want := p.text(`document.getElementById("state").textContent`), statusLine(out, "state"); got != want {
		t.Errorf("job page says %q, drover status %q", got, want)
	}
	for _, id := range []string{"maps", "reduces"} {
		if got, want := p.text(fmt.Sprintf(`document.getElementById(%q).textContent`, id)), statusLine(out, id); !strings.HasPrefix(want, got) {
			t.Errorf("job page's %s are %q, drover status says %q", id, got, want)
		}
	}
	if got, want := p.count("#task-table tbody.task"), st.Maps+st.Reduces; got != want {
		t.Errorf("task table has %d tasks, want %d", got, want)
	}
	if got, want := p.count("#task-table tr.result-committed"), st.MapsDone+st.ReduceDone; got != want {
		t.Errorf("task table has %d committed runs, want %d", got, want)
	}
	if got, want := p.count("#task-table tbody.task tr"), len(p.bars()); got != want {
		t.Errorf("task table has %d runs, the timeline %d bars", got, want)
	}
	backups, superseded := 0, 0
	for _, b := range p.bars() {
		if strings.Contains(b, "backup") {
			backups++
		}
		if strings.Contains(b, "on w0: superseded") {
			superseded++
		}
	}
	if backups != st.Backups.Launched || backups == 0 || superseded == 0 {
		t.Errorf("timeline has %d backups and %d runs of w0 superseded; drover status says %q; want at least one of each\n%s",
			backups, superseded, statusLine(out, "backups"), strings.Join(p.bars(), "\n"))
	}
	if p.count("svg.timeline line.barrier") != 1 {
		t.Errorf("timeline shows no map/reduce barrier")
	}
	p.screenshot("dashboard-job.png", chromedp.FullScreenshot(100))
	p.screenshot("dashboard-timeline.png", chromedp.Screenshot(chromedp.CSS("div.timeline-wrap")))

	// A worker killed mid-task: the same attempt runs again elsewhere,
	// and the page, followed live, shows both runs.
	release := filepath.Join(t.TempDir(), "release")
	input := filepath.Join(t.TempDir(), "in.txt")
	if err := os.WriteFile(input, []byte(heldInput), 0o644); err != nil {
		t.Fatal(err)
	}
	killed := d.submit([]string{input}, "--app", "streaming", "--arg", held("true", release, shellMapper), "--arg", shellReducer, "-r", "1")
	var runner string
	brokertest.WaitFor(t, time.Minute, func() bool {
		if s := d.events(killed, mr.EventStarted); len(s) > 0 {
			runner = s[0].Worker
		}
		return runner != ""
	}, "job %s's map to start", killed)
	p.open("/jobs/" + killed)
	for i, w := range d.workers {
		if fmt.Sprint("w", i) == runner {
			w.kill()
		}
	}
	brokertest.WaitFor(t, time.Minute, func() bool { return len(startsOf(d, killed)) > 1 }, "map 0 of job %s to start again", killed)
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	p.waitText("#state", "done", time.Minute)
	lost, rerun := false, false
	for _, b := range p.bars() {
		lost = lost || strings.Contains(b, "map 0, attempt 1 on "+runner+": lost")
		rerun = rerun || (strings.Contains(b, "map 0, attempt 1 on w") && strings.Contains(b, ": committed") && !strings.Contains(b, "on "+runner+":"))
	}
	if !lost || !rerun {
		t.Errorf("timeline of job %s lacks the run lost with %s (%v) or its re-run elsewhere (%v):\n%s", killed, runner, lost, rerun, strings.Join(p.bars(), "\n"))
	}

	// Cancel a job from its page.
	never := filepath.Join(t.TempDir(), "never")
	cancelled := d.submit([]string{input}, "--app", "streaming", "--arg", held("true", never, shellMapper), "--arg", shellReducer, "-r", "1")
	brokertest.WaitFor(t, time.Minute, func() bool { return len(d.events(cancelled, mr.EventStarted)) > 0 }, "job %s's map to start", cancelled)
	p.open("/jobs/" + cancelled)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#cancel"))); err != nil {
		t.Fatal(err)
	}
	p.waitLoaded("#state", "cancelled", 30*time.Second)
	if st := d.status(cancelled); st.State != "cancelled" {
		t.Errorf("job %s is %s after its page's cancel, want cancelled", cancelled, st.State)
	}

	p.open("/jobs")
	p.screenshot("dashboard-jobs.png", chromedp.Screenshot(chromedp.CSS("main")))

	// The workers and the cluster pages answer.
	p.open("/cluster")
	if p.count(`tr[data-stream="DROVER_TASKS"]`) != 1 {
		t.Errorf("cluster page lacks the task stream")
	}
	p.open("/workers")
	survivor := "w1"
	if runner == "w1" {
		survivor = "w2"
	}
	p.waitText(fmt.Sprintf(`tr[data-worker=%q] td`, survivor), survivor, 30*time.Second)
}
