package dashboard

import (
	"cmp"
	"encoding/json"
	"fmt"
	"html/template"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// view is what every page's layout shows.
type view struct {
	Title string
	Nav   string // the page's tab: jobs, workers or cluster
	// Live pages update themselves every Refresh milliseconds by script,
	// and every RefreshSeconds by a meta refresh without one.
	Live           bool
	Refresh        int
	RefreshSeconds int
}

type errorView struct {
	view
	Error string
}

// anonymous is what a job's submitter shows when its call to the master
// named none (master.JobStatus.Owner): without drover auth init's
// submitter users, or from a reader or an admin.
const anonymous = "anonymous"

// jobRow is a job in the list.
type jobRow struct {
	master.JobStatus
	Started   string
	Duration  string
	Submitter string
	MapsPct   int
	RedPct    int
}

type jobsPage struct {
	view
	Jobs  []jobRow
	First bool   // this is the first page
	Next  string // the URL of the next page, "" on the last
	Limit int
}

func jobsView(v view, page master.ListPage, after string, limit int, now time.Time) jobsPage {
	p := jobsPage{view: v, First: after == "", Limit: limit, Jobs: make([]jobRow, len(page.Jobs))}
	for i, st := range page.Jobs {
		p.Jobs[i] = row(st, now)
	}
	if page.Next != "" {
		p.Next = "/jobs?after=" + template.URLQueryEscaper(page.Next)
		if limit != master.MaxListLimit {
			p.Next += "&limit=" + strconv.Itoa(limit)
		}
	}
	return p
}

func row(st master.JobStatus, now time.Time) jobRow {
	r := jobRow{JobStatus: st, Submitter: cmp.Or(st.Owner, anonymous), MapsPct: percent(st.MapsDone, st.Maps), RedPct: percent(st.ReduceDone, st.Reduces)}
	if st.Submitted != 0 {
		r.Started = time.Unix(0, st.Submitted).UTC().Format(time.DateTime)
		end := now.UnixNano()
		if st.Ended != 0 {
			end = st.Ended
		}
		r.Duration = duration(time.Duration(end - st.Submitted))
	}
	return r
}

func percent(n, of int) int {
	if of <= 0 {
		return 0
	}
	return min(max(100*n/of, 0), 100)
}

// duration rounds d to what a person reads: milliseconds under a minute,
// seconds above.
func duration(d time.Duration) string {
	if d < time.Minute {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

type jobPage struct {
	view
	Job       jobRow
	Spec      *mr.JobSpec
	Counters  []counter
	Tasks     []Task
	Timeline  Timeline
	Truncated bool
	Token     string
	Cancelled bool
	Running   int // runs still running
	// Shown are the tasks the page lists: every task of a small job,
	// else those run more than once or not committed, at most
	// maxShownTasks; More says some of those are left out.
	Shown []Task
	More  bool
}

// Bounds of the task tables: a job page lists every task up to
// maxShownTasks, and the tasks page shows tasksPerPage a page.
const (
	maxShownTasks = 200
	tasksPerPage  = 500
)

type counter struct {
	Name  string
	Value int64
}

func jobView(v view, d JobData, now time.Time) jobPage {
	st := d.Status
	p := jobPage{view: v, Job: row(st, now), Spec: d.Spec, Counters: counters(st.Counters), Truncated: d.Truncated}
	var ended time.Time
	if st.State.Ended() && st.Ended != 0 {
		ended = time.Unix(0, st.Ended)
	}
	p.Tasks = Tasks(st.Maps, st.Reduces, d.Records, d.Commits, ended)
	end := ended
	if end.IsZero() {
		end = now
	}
	p.Timeline = Layout(p.Tasks, time.Unix(0, st.Submitted), end)
	for _, t := range p.Tasks {
		for _, a := range t.Attempts {
			if a.Result == ResultRunning {
				p.Running++
			}
		}
	}
	if len(p.Tasks) <= maxShownTasks {
		p.Shown = p.Tasks
		return p
	}
	for _, t := range p.Tasks {
		if len(t.Attempts) > 1 || !t.Committed {
			if len(p.Shown) == maxShownTasks {
				p.More = true
				break
			}
			p.Shown = append(p.Shown, t)
		}
	}
	return p
}

type tasksPage struct {
	view
	Job             jobRow
	Tasks           []Task
	From, To, Total int
	Prev, Next      string
}

func tasksView(v view, d JobData, from int, now time.Time) tasksPage {
	st := d.Status
	var ended time.Time
	if st.State.Ended() && st.Ended != 0 {
		ended = time.Unix(0, st.Ended)
	}
	tasks := Tasks(st.Maps, st.Reduces, d.Records, d.Commits, ended)
	from = min(from, len(tasks))
	to := min(from+tasksPerPage, len(tasks))
	p := tasksPage{view: v, Job: row(st, now), Tasks: tasks[from:to], From: from, To: to, Total: len(tasks)}
	base := "/jobs/" + pathEscape(st.ID) + "/tasks"
	if from > 0 {
		p.Prev = base + "?from=" + strconv.Itoa(max(from-tasksPerPage, 0))
	}
	if to < len(tasks) {
		p.Next = base + "?from=" + strconv.Itoa(to)
	}
	return p
}

// counters are c's fields by their names in JSON, sorted.
func counters(c mr.Counters) []counter {
	data, _ := json.Marshal(c)
	var m map[string]int64
	json.Unmarshal(data, &m)
	out := make([]counter, 0, len(m))
	for k, v := range m {
		out = append(out, counter{k, v})
	}
	slices.SortFunc(out, func(a, b counter) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

type workersPage struct {
	view
	Workers []workerRow
	Skipped int
}

type workerRow struct {
	mr.WorkerInfo
	Up      string
	Seen    string
	Running []slotRow
}

type slotRow struct {
	mr.SlotTask
	For string // how long the slot has run it
}

func workersView(v view, ws []mr.WorkerInfo, skipped int, now time.Time) workersPage {
	ws = slices.Clone(ws)
	slices.SortFunc(ws, func(a, b mr.WorkerInfo) int { return strings.Compare(a.ID, b.ID) })
	p := workersPage{view: v, Skipped: skipped, Workers: make([]workerRow, len(ws))}
	for i, w := range ws {
		r := workerRow{WorkerInfo: w}
		if w.Started > 0 {
			r.Up = duration(now.Sub(time.Unix(0, w.Started)))
		}
		if !w.Seen.IsZero() {
			r.Seen = duration(max(now.Sub(w.Seen), 0)) + " ago"
		}
		for _, t := range w.Running {
			s := slotRow{SlotTask: t}
			if t.Since > 0 {
				s.For = duration(max(now.Sub(time.Unix(0, t.Since)), 0))
			}
			r.Running = append(r.Running, s)
		}
		p.Workers[i] = r
	}
	return p
}

type clusterView struct {
	view
	Cluster
}

// funcs are the templates' helpers.
var funcs = template.FuncMap{
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("15:04:05.000")
	},
	"since": func(from, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return "+" + duration(t.Sub(from))
	},
	"took": func(a Attempt) string {
		if a.End.IsZero() {
			return ""
		}
		return duration(a.End.Sub(a.Start))
	},
	"bytes": func(n uint64) string {
		switch {
		case n >= 1<<30:
			return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
		case n >= 1<<20:
			return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
		case n >= 1<<10:
			return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
		}
		return fmt.Sprintf("%d B", n)
	},
	"f1":     func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"path":   pathEscape,
	"static": staticURL,
}
