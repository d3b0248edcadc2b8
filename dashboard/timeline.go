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

	"github.com/drover-dev/drover/mr"
)

// Geometry of a timeline, in SVG user units (pixels at 100%).
const (
	timelineLabelWidth = 180
	timelinePlotWidth  = 1000
	timelineRowHeight  = 16
	timelineRowGap     = 3
	timelineAxisHeight = 22
	// minBarLabelWidth is how wide a bar must be to carry its task's name.
	minBarLabelWidth = 28
)

// Timeline is a job's event timeline as Spark draws it: a row per worker
// slot, a bar per run of an attempt, an axis of elapsed time and a line
// where the reduces could begin (every map committed).
//
// A page draws the bars as Paths, one SVG path per class of bar, so that
// a job of thousands of runs is a few elements for the browser to lay
// out and paint, not thousands; the tooltip of each bar is in Runs, for
// the page's script to show.
type Timeline struct {
	Width, Height int
	PlotX         int // where the plot starts, right of the row labels
	Lanes         []Lane
	Bars          []Bar
	Paths         []Path  // the bars, drawn
	Labels        []Label // the names on bars wide enough to carry one
	Ticks         []Tick
	// Barrier is the x of the last map's commit in a job whose maps all
	// committed and which has reduces; 0 when there is none.
	Barrier float64
	Start   time.Time
	End     time.Time
}

// Lane is a row: one slot of one worker. A worker's slots are not named
// in events; a worker has as many rows as it had runs at once.
type Lane struct {
	Worker string
	Slot   int
	Y      int // the top of the row
}

// Bar is one run of an attempt on its worker's row.
type Bar struct {
	X, W    float64
	Y, H    int
	Lane    int // the index of its row in Timeline.Lanes
	Attempt Attempt
	Task    string // "map 3", "reduce 0"
	Class   string // CSS classes: phase, result, "backup"
	Title   string // the tooltip
}

// Path is every bar of one class, drawn as one SVG path of a rectangle
// per bar.
type Path struct {
	Class string // the bars' Class
	D     string // the path's data
	Title string // what the bars are and how many: "map, committed: 3600 runs"
}

// Label is the short name of a bar's task drawn on it, "m3" or "m3 B" for
// a backup.
type Label struct {
	X    float64
	Y    int
	Text string
}

// Tick is a mark of elapsed time on the axis.
type Tick struct {
	X     float64
	Label string
}

// tickSteps are the durations a tick may stand for, smallest first.
var tickSteps = []time.Duration{
	10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 30 * time.Second,
	time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 6 * time.Hour, 12 * time.Hour, 24 * time.Hour,
}

// Layout draws tasks' runs between start and end (the job's submission
// and its end, or now while it runs). Rows are sorted by worker, then
// slot; runs of one worker take the first slot free when they start. It
// is a pure function of its arguments.
func Layout(tasks []Task, start, end time.Time) Timeline {
	n := 0
	for _, t := range tasks {
		n += len(t.Attempts)
	}
	runs := make([]*Attempt, 0, n) // pointers, which sort faster than attempts
	for i := range tasks {
		for j := range tasks[i].Attempts {
			a := &tasks[i].Attempts[j]
			if a.Result != ResultReused && a.Worker != "" {
				runs = append(runs, a)
			}
			if a.End.After(end) {
				end = a.End
			}
		}
	}
	if !end.After(start) {
		end = start.Add(time.Second)
	}
	slices.SortStableFunc(runs, func(a, b *Attempt) int {
		return cmp.Or(cmp.Compare(a.Worker, b.Worker), a.Start.Compare(b.Start))
	})
	tl := Timeline{PlotX: timelineLabelWidth, Width: timelineLabelWidth + timelinePlotWidth, Start: start, End: end, Bars: make([]Bar, 0, len(runs))}
	span := float64(end.Sub(start))
	x := func(t time.Time) float64 {
		return float64(timelineLabelWidth) + float64(timelinePlotWidth)*float64(max(t.Sub(start), 0))/span
	}
	type slot struct {
		lane int
		free time.Time
	}
	var slots []slot // of the current worker
	worker := ""
	for i, a := range runs {
		if i == 0 || a.Worker != worker {
			worker, slots = a.Worker, slots[:0]
		}
		s := slices.IndexFunc(slots, func(s slot) bool { return !s.free.After(a.Start) })
		if s < 0 {
			tl.Lanes = append(tl.Lanes, Lane{Worker: worker, Slot: len(slots), Y: timelineAxisHeight + len(tl.Lanes)*(timelineRowHeight+timelineRowGap)})
			slots = append(slots, slot{lane: len(tl.Lanes) - 1})
			s = len(slots) - 1
		}
		stop := a.End
		if a.Result == ResultRunning {
			stop = end
		}
		slots[s].free = stop
		lane := tl.Lanes[slots[s].lane]
		x0, x1 := x(a.Start), x(stop)
		b := Bar{X: x0, Y: lane.Y, W: max(x1-x0, 1), H: timelineRowHeight, Lane: slots[s].lane, Attempt: *a,
			Task: string(a.Phase) + " " + strconv.Itoa(a.Index), Class: string(a.Phase) + " " + string(a.Result)}
		if a.Backup {
			b.Class += " backup"
		}
		if b.W >= minBarLabelWidth {
			l := Label{X: b.X, Y: b.Y, Text: string(a.Phase[:1]) + strconv.Itoa(a.Index)}
			if a.Backup {
				l.Text += " B"
			}
			tl.Labels = append(tl.Labels, l)
		}
		b.Title = barTitle(b.Task, a, stop)
		tl.Bars = append(tl.Bars, b)
	}
	tl.Paths = paths(tl.Bars)
	tl.Height = timelineAxisHeight + len(tl.Lanes)*(timelineRowHeight+timelineRowGap) + 4
	step := tickSteps[len(tickSteps)-1]
	for _, s := range tickSteps {
		if end.Sub(start)/s <= 10 {
			step = s
			break
		}
	}
	for d := time.Duration(0); d <= end.Sub(start); d += step {
		tl.Ticks = append(tl.Ticks, Tick{X: x(start.Add(d)), Label: d.String()})
	}
	tl.Barrier = barrier(tasks, x)
	return tl
}

// barrier is the x of the last map commit when every map committed and
// there are reduces to wait for it, else 0.
func barrier(tasks []Task, x func(time.Time) float64) float64 {
	var last time.Time
	reduces := false
	for _, t := range tasks {
		if t.Phase == mr.PhaseReduce {
			reduces = true
			continue
		}
		if !t.Committed {
			return 0
		}
		for _, a := range t.Attempts {
			if a.Result == ResultCommitted || a.Result == ResultReused {
				last = maxTime(last, a.End)
			}
		}
	}
	if !reduces || last.IsZero() {
		return 0
	}
	return x(last)
}

// barTitle is a run's tooltip: which task, which attempt, how it ended.
func barTitle(task string, a *Attempt, stop time.Time) string {
	s := task + ", attempt " + strconv.Itoa(a.Attempt) + " on " + a.Worker + ": " + string(a.Result) + " after " +
		stop.Sub(a.Start).Round(time.Millisecond).String()
	if a.Backup {
		s += " (backup)"
	}
	if a.Error != "" {
		s += ": " + a.Error
	}
	return s
}

// paths draws bars as a path per class, sorted by class. A bar of three
// units or more is drawn a unit short, so that runs one after the other
// on a row stay apart.
func paths(bars []Bar) []Path {
	type group struct {
		class string
		d     []byte
		n     int
	}
	var groups []*group
	byClass := map[string]*group{}
	for _, b := range bars {
		g := byClass[b.Class]
		if g == nil {
			g = &group{class: b.Class}
			byClass[b.Class] = g
			groups = append(groups, g)
		}
		w := b.W
		if w >= 3 {
			w--
		}
		g.d = append(g.d, 'M')
		g.d = strconv.AppendFloat(g.d, b.X, 'f', 1, 64)
		g.d = append(g.d, ' ')
		g.d = strconv.AppendInt(g.d, int64(b.Y), 10)
		g.d = append(g.d, 'h')
		g.d = strconv.AppendFloat(g.d, w, 'f', 1, 64)
		g.d = append(g.d, 'v')
		g.d = strconv.AppendInt(g.d, int64(b.H), 10)
		g.d = append(g.d, 'h', '-')
		g.d = strconv.AppendFloat(g.d, w, 'f', 1, 64)
		g.d = append(g.d, 'z')
		g.n++
	}
	slices.SortFunc(groups, func(a, b *group) int { return strings.Compare(a.class, b.class) })
	out := make([]Path, len(groups))
	for i, g := range groups {
		runs := "runs"
		if g.n == 1 {
			runs = "run"
		}
		out[i] = Path{Class: g.class, D: string(g.d), Title: fmt.Sprintf("%s: %d %s", strings.ReplaceAll(g.class, " ", ", "), g.n, runs)}
	}
	return out
}

// Runs is the timeline's bars as the page's script reads them to show
// the tooltip of the bar under the pointer: a JSON object of the rows'
// geometry (the top of the first, the distance from a row to the next
// and a bar's height, in SVG units) and of the bars of each row of
// Lanes, by x, each [x, width, tooltip].
//
// It is template.JS, which html/template writes as it is, because it is
// safe in a script element as encoding/json makes it, the escaping
// html/template would do: every string is encoded by json.Marshal, which
// escapes <, > and & (so that no "</script" can close the element) and
// U+2028 and U+2029; the rest is numbers and punctuation. Written as is,
// it costs the server a fifth of what marshalling it again would.
func (tl Timeline) Runs() template.JS {
	rows := make([][]int, len(tl.Lanes))
	for i, b := range tl.Bars {
		rows[b.Lane] = append(rows[b.Lane], i)
	}
	out := fmt.Appendf(nil, `{"top":%d,"pitch":%d,"height":%d,"rows":[`, timelineAxisHeight, timelineRowHeight+timelineRowGap, timelineRowHeight)
	for i, row := range rows {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '[')
		for j, k := range row {
			b := tl.Bars[k]
			if j > 0 {
				out = append(out, ',')
			}
			out = append(out, '[')
			out = strconv.AppendFloat(out, b.X, 'f', 1, 64)
			out = append(out, ',')
			out = strconv.AppendFloat(out, b.W, 'f', 1, 64)
			out = append(out, ',')
			title, _ := json.Marshal(b.Title) // a string always marshals
			out = append(append(out, title...), ']')
		}
		out = append(out, ']')
	}
	return template.JS(append(out, "]}"...))
}
