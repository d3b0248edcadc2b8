package dashboard_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/dashboard"
	"github.com/drover-dev/drover/mr"
)

func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

func ev(s float64, kind mr.EventKind, phase mr.Phase, index, attempt int, worker string) dashboard.Record {
	return dashboard.Record{At: at(s), Event: mr.Event{Kind: kind, Job: "j", Phase: phase, Index: index, Attempt: attempt, Worker: worker}}
}

func commit(s float64, phase mr.Phase, index, attempt int, worker string) mr.Commit {
	return mr.Commit{Job: "j", Phase: phase, Index: index, Attempt: attempt, Worker: worker, At: at(s).UnixNano()}
}

// runs is every run of tasks as "phase index/attempt@worker result start-end".
func runs(tasks []dashboard.Task) string {
	var b strings.Builder
	for _, t := range tasks {
		for _, a := range t.Attempts {
			end := "-"
			if !a.End.IsZero() {
				end = fmt.Sprint(a.End.Sub(t0).Seconds())
			}
			fmt.Fprintf(&b, "%s%d/%d@%s %s %v-%s", a.Phase[:1], a.Index, a.Attempt, a.Worker, a.Result, a.Start.Sub(t0).Seconds(), end)
			if a.Backup {
				b.WriteString(" backup")
			}
			b.WriteString("; ")
		}
	}
	return b.String()
}

func TestTasks(t *testing.T) {
	const m, r = mr.PhaseMap, mr.PhaseReduce
	tests := []struct {
		name    string
		records []dashboard.Record
		commits []mr.Commit
		ended   time.Time
		want    string
	}{
		{"plain", []dashboard.Record{ev(1, mr.EventStarted, m, 0, 1, "a"), ev(3, mr.EventStarted, r, 0, 1, "a")},
			[]mr.Commit{commit(2, m, 0, 1, "a"), commit(4, r, 0, 1, "a")}, time.Time{},
			"m0/1@a committed 1-2; r0/1@a committed 3-4; "},
		{"straggler and its backup", []dashboard.Record{ev(1, mr.EventStarted, m, 0, 1, "slow"),
			{At: at(2), Event: mr.Event{Kind: mr.EventPublished, Job: "j", Phase: m, Attempt: 2, Why: "backup"}},
			ev(2.5, mr.EventStarted, m, 0, 2, "fast")},
			[]mr.Commit{commit(3, m, 0, 2, "fast")}, time.Time{},
			"m0/1@slow superseded 1-3; m0/2@fast committed 2.5-3 backup; r0 waiting"},
		{"worker killed: the same attempt runs again", []dashboard.Record{ev(1, mr.EventStarted, m, 0, 1, "killed"), ev(2, mr.EventStarted, m, 0, 1, "other")},
			[]mr.Commit{commit(3, m, 0, 1, "other")}, time.Time{},
			"m0/1@killed lost 1-2; m0/1@other committed 2-3; r0 waiting"},
		{"failure and retry", []dashboard.Record{ev(1, mr.EventStarted, m, 0, 1, "a"),
			{At: at(2), Event: mr.Event{Kind: mr.EventFailed, Job: "j", Phase: m, Attempt: 1, Worker: "a", Error: "boom"}},
			ev(3, mr.EventStarted, m, 0, 2, "b")}, nil, time.Time{},
			"m0/1@a failed 1-2; m0/2@b running 3--; r0 waiting"},
		{"job cancelled while running", []dashboard.Record{ev(1, mr.EventStarted, m, 0, 1, "a")}, nil, at(5),
			"m0/1@a stopped 1-5; r0 waiting"},
		{"reused map", nil, []mr.Commit{{Job: "j", Phase: m, Attempt: 1, Reused: "old", At: at(1).UnixNano()}}, time.Time{},
			"m0/1@ reused 1-1; r0 waiting"},
		{"events out of range are ignored", []dashboard.Record{ev(1, mr.EventStarted, m, 7, 1, "a"), ev(1, mr.EventStarted, r, -1, 1, "a"),
			ev(1, mr.EventStarted, "other", 0, 1, "a")}, []mr.Commit{commit(2, r, 5, 1, "a")}, time.Time{}, "m0 waiting; r0 waiting"},
		{"a commit before its start in the broker's clock", []dashboard.Record{ev(2, mr.EventStarted, m, 0, 1, "a")},
			[]mr.Commit{commit(1.5, m, 0, 1, "a")}, time.Time{}, "m0/1@a committed 2-2; r0 waiting"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tasks := dashboard.Tasks(1, 1, tt.records, tt.commits, tt.ended)
			got := runs(tasks)
			for _, task := range tasks {
				if len(task.Attempts) == 0 {
					got += fmt.Sprintf("%c%d waiting", task.Phase[0], task.Index)
					if task.Phase == m {
						got += "; "
					}
				}
			}
			if got != tt.want {
				t.Errorf("Tasks() =\n %s\nwant\n %s", got, tt.want)
			}
		})
	}
}

// TestLayout: runs of one worker at once take rows of their own, the
// barrier sits at the last map's commit, a backup is marked.
func TestLayout(t *testing.T) {
	const m, r = mr.PhaseMap, mr.PhaseReduce
	records := []dashboard.Record{ev(0, mr.EventStarted, m, 0, 1, "a"), ev(0, mr.EventStarted, m, 1, 1, "a"), ev(0, mr.EventStarted, m, 2, 1, "b"),
		{At: at(4), Event: mr.Event{Kind: mr.EventPublished, Job: "j", Phase: m, Index: 2, Attempt: 2, Why: "backup"}},
		ev(4, mr.EventStarted, m, 2, 2, "a"), ev(5, mr.EventStarted, r, 0, 1, "a")}
	commits := []mr.Commit{commit(4, m, 0, 1, "a"), commit(3, m, 1, 1, "a"), commit(5, m, 2, 2, "a"), commit(10, r, 0, 1, "a")}
	tasks := dashboard.Tasks(3, 1, records, commits, time.Time{})
	tl := dashboard.Layout(tasks, t0, at(10))
	var lanes []string
	for _, l := range tl.Lanes {
		lanes = append(lanes, fmt.Sprintf("%s#%d", l.Worker, l.Slot))
	}
	if got := strings.Join(lanes, " "); got != "a#0 a#1 b#0" {
		t.Errorf("lanes %s, want a#0 a#1 b#0", got)
	}
	if len(tl.Bars) != 5 {
		t.Fatalf("%d bars, want 5", len(tl.Bars))
	}
	plot := float64(tl.Width - tl.PlotX)
	if want := float64(tl.PlotX) + plot/2; tl.Barrier != want {
		t.Errorf("barrier at %v, want %v (the last map's commit, half way)", tl.Barrier, want)
	}
	backups := 0
	for _, b := range tl.Bars {
		if b.X < float64(tl.PlotX) || b.X+b.W > float64(tl.Width)+0.01 {
			t.Errorf("bar %s at [%v, %v], outside the plot", b.Task, b.X, b.X+b.W)
		}
		if strings.Contains(b.Class, "backup") {
			backups++
			if b.Task != "map 2" {
				t.Errorf("backup bar %s, want map 2", b.Task)
			}
		}
	}
	if backups != 1 {
		t.Errorf("%d backup bars, want 1", backups)
	}
	var labels []string
	for _, l := range tl.Labels {
		labels = append(labels, l.Text)
	}
	if got := strings.Join(labels, " "); !strings.Contains(got, "m2 B") || !strings.Contains(got, "r0") {
		t.Errorf("labels %s, want m2 B on the backup and r0 among them", got)
	}
	drawn, classes := 0, []string{}
	for _, p := range tl.Paths {
		drawn += strings.Count(p.D, "M")
		classes = append(classes, p.Class)
	}
	if drawn != len(tl.Bars) || !slices.IsSorted(classes) || len(slices.Compact(slices.Clone(classes))) != len(classes) {
		t.Errorf("paths of classes %q draw %d bars, want one path per class, sorted, drawing the %d bars", classes, drawn, len(tl.Bars))
	}
	var runs struct {
		Top, Pitch, Height int
		Rows               [][][]any
	}
	if err := json.Unmarshal([]byte(tl.Runs()), &runs); err != nil {
		t.Fatalf("Runs() = %s: %v", tl.Runs(), err)
	}
	n := 0
	for i, row := range runs.Rows {
		n += len(row)
		for j := 1; j < len(row); j++ {
			if row[j][0].(float64) < row[j-1][0].(float64) {
				t.Errorf("Runs() row %d has bars out of order: %v", i, row)
			}
		}
	}
	if len(runs.Rows) != len(tl.Lanes) || n != len(tl.Bars) || runs.Top != tl.Lanes[0].Y || runs.Pitch != tl.Lanes[1].Y-tl.Lanes[0].Y {
		t.Errorf("Runs() = %s, want the %d bars in %d rows from y %d", tl.Runs(), len(tl.Bars), len(tl.Lanes), tl.Lanes[0].Y)
	}
	if len(tl.Ticks) < 2 || tl.Ticks[0].Label != "0s" {
		t.Errorf("ticks %+v, want from 0s", tl.Ticks)
	}
}
