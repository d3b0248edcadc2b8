package master

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

// The simulation runs a job through the core with simulated workers that
// crash, stall, straggle, fail, lose map output, report commits twice and
// commit late, one of them sometimes a slow machine, on a virtual clock,
// with map outputs reused from an earlier job, with bad input records in
// jobs that skip them, with task messages the queue loses, and with
// master crashes (a leader change looks the
// same: a new core rebuilds from what is stored), and checks the
// invariants a MapReduce master must keep.

const (
	simStep    = 10 * time.Millisecond
	simLease   = 300 * time.Millisecond // a dead worker's task comes back after it
	simTimeout = time.Second            // an attempt's deadline
	simLimit   = 10 * time.Minute       // of virtual time: a job must end before
)

type simMsg struct {
	task    TaskID
	attempt int
	skip    []int64   // the records it skips
	visible time.Time // when the queue hands it out (again)
}

type simRun struct {
	msg      simMsg
	worker   int
	finishAt time.Time
	outcome  string // "ok", "fail", "crash", "lost"
	// A reduce that will find a map's output lost: which map, and the
	// attempt whose commit it read (-1 if none).
	lostMap, lostAttempt int
	record               *int64 // the input record a failing map failed on
}

type sim struct {
	t       *testing.T
	seed    uint64
	rand    *rand.Rand
	core    *Core
	now     time.Time
	queue   []simMsg
	running []simRun
	workers int
	// commits is the commit bucket: the first attempt to commit a task wins.
	commits     map[TaskID]int
	poison      map[TaskID]bool
	finished    []Finish
	extra       map[TaskID]int  // attempts that are recomputations, not failures
	reused      map[TaskID]bool // maps committed at submission with an earlier job's output
	lostReport  map[TaskID]int  // the map commit a reduce last reported lost, by attempt
	speculation bool
	slowWorker  bool // worker 0 is a slow machine
	// What a restarted master rebuilds from: the job, the event stream and
	// the commit bucket. Publications are deduplicated by message ID.
	submitted Submitted
	persisted []Event
	published map[string]bool
	replaying bool
	crashes   int
	log       []string
	maps      int
	// maxAttempts per job.
	maxAttempts int
	// In a job that skips bad records: the most a task may skip, each
	// map's bad records, the failures reported on each record, and the
	// next offset of a record a map fails on by chance, once.
	skipBad     bool
	maxSkipped  int
	bad         map[TaskID][]int64
	recordFails map[TaskID]map[int64]int
	flaky       int64
	// The queue loses a message now and then (lost counts them); the
	// shell's check finds attempts missing (missing, at the last check,
	// made at checked) and requeues those missing twice in a row.
	lost    int
	missing map[Attempt]bool
	checked time.Time
}

func newSim(t *testing.T, seed uint64) *sim {
	return &sim{
		t:           t,
		seed:        seed,
		rand:        rand.New(rand.NewPCG(seed, seed*7919)),
		core:        NewCore(),
		now:         time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
		commits:     map[TaskID]int{},
		extra:       map[TaskID]int{},
		reused:      map[TaskID]bool{},
		lostReport:  map[TaskID]int{},
		published:   map[string]bool{},
		poison:      map[TaskID]bool{},
		maxAttempts: 4,
		bad:         map[TaskID][]int64{},
		recordFails: map[TaskID]map[int64]int{},
		flaky:       1 << 40,
	}
}

func (s *sim) handle(ev Event) {
	s.log = append(s.log, fmt.Sprintf("%v %T%+v", s.now.Format("15:04:05.000"), ev, ev))
	switch ev := ev.(type) {
	case Submitted:
		s.submitted = ev
	case Started, Progressed, Failed, InputLost, Republished:
		if !s.replaying {
			s.persisted = append(s.persisted, ev) // the event stream
		}
	}
	for _, a := range s.core.Handle(s.now, ev) {
		s.log = append(s.log, fmt.Sprintf("  -> %T%+v", a, a))
		switch a := a.(type) {
		case Publish:
			if len(s.finished) > 0 {
				s.fatalf("published %v after the job ended", a.Task)
			}
			if a.Attempt > 1 && !s.replaying { // the shell records it first
				s.persisted = append(s.persisted, Republished{Task: a.Task, Attempt: a.Attempt, Why: a.Why})
			}
			key := fmt.Sprint(a.Task, "/", a.Attempt)
			if s.published[key] {
				continue // the stream's deduplication by message ID
			}
			s.published[key] = true
			if s.reused[a.Task] && s.extra[a.Task] == 0 && s.crashes == 0 {
				s.fatalf("published %v, whose output was reused", a.Task)
			}
			if a.Task.Phase == mr.PhaseReduce {
				for i := range s.maps {
					if _, ok := s.commits[TaskID{a.Task.Job, mr.PhaseMap, i}]; !ok {
						s.fatalf("reduce %v published before map %d committed", a.Task, i)
					}
				}
			}
			// Failures are limited; recomputations (of a map whose output
			// was lost, of a reduce that lost it) are not failures, nor
			// the two that prove a record bad.
			limit := s.maxAttempts + s.extra[a.Task] + badRecordAttempts*len(a.Skip)
			if len(a.Skip) > s.maxSkipped {
				s.fatalf("%v attempt %d skips %d records, beyond the limit of %d", a.Task, a.Attempt, len(a.Skip), s.maxSkipped)
			}
			for _, off := range a.Skip {
				if s.recordFails[a.Task][off] < badRecordAttempts && !s.replaying {
					s.fatalf("%v attempt %d skips the record at %d, on which %d attempts failed", a.Task, a.Attempt, off, s.recordFails[a.Task][off])
				}
			}
			if s.speculation {
				limit++ // one backup
			}
			if a.Attempt > limit {
				s.fatalf("%v attempt %d beyond the limit of %d", a.Task, a.Attempt, limit)
			}
			s.queue = append(s.queue, simMsg{task: a.Task, attempt: a.Attempt, skip: a.Skip, visible: s.now})
		case Uncommit:
			if _, ok := s.commits[a.Task]; !ok && !s.replaying {
				s.fatalf("uncommit of %v, which has no commit", a.Task)
			}
			if lost, ok := s.lostReport[a.Task]; ok && lost >= 0 && lost != s.commits[a.Task] && !s.replaying {
				s.fatalf("uncommit of %v attempt %d, but attempt %d's output was the one lost", a.Task, s.commits[a.Task], lost)
			}
			delete(s.commits, a.Task)
			s.extra[a.Task]++
		case Purge:
			s.queue = slices.DeleteFunc(s.queue, func(m simMsg) bool { return m.task.Job == a.Job })
		case Finish:
			s.finished = append(s.finished, a)
		}
	}
}

// badRecord is the first bad record of msg's task that msg does not skip,
// or nil: the record its attempt fails on.
func (s *sim) badRecord(msg simMsg) *int64 {
	for _, off := range s.bad[msg.task] {
		if _, skipped := slices.BinarySearch(msg.skip, off); !skipped {
			return &off
		}
	}
	return nil
}

func (s *sim) fatalf(format string, args ...any) {
	s.t.Helper()
	var tail []string
	for _, l := range s.log {
		if !strings.HasSuffix(l, "master.Tick{}") && !strings.Contains(l, "Progressed") {
			tail = append(tail, l)
		}
	}
	s.t.Fatalf("seed %d: "+format+"\nlast events:\n%s", append(append([]any{s.seed}, args...), strings.Join(tail, "\n"))...)
}

// crash replaces the master by a new one, which rebuilds its state as the
// shell does: the job, then every event the stream kept, then the commits.
func (s *sim) crash() {
	s.crashes++
	s.log = append(s.log, "-- the master crashes; a new one rebuilds --")
	s.core = NewCore()
	s.replaying = true
	// As the shell restores a job: its reused maps are commits like any.
	s.submitted.Reused = nil
	s.handle(s.submitted)
	for _, ev := range s.persisted {
		s.handle(ev)
	}
	for _, id := range slices.SortedFunc(maps.Keys(s.commits), func(a, b TaskID) int { return strings.Compare(a.String(), b.String()) }) {
		s.handle(Committed{Task: id, Attempt: s.commits[id]})
	}
	s.replaying = false
}

// step advances the world by one step.
func (s *sim) step() {
	s.now = s.now.Add(simStep)
	if s.crashes < 2 && len(s.finished) == 0 && s.rand.IntN(300) == 0 {
		s.crash()
	}
	// Attempts that end now.
	var still []simRun
	for _, r := range s.running {
		if s.now.Before(r.finishAt) {
			still = append(still, r)
			continue
		}
		switch r.outcome {
		case "crash": // the worker died: the message comes back after the lease
			r.msg.visible = s.now.Add(simLease)
			s.queue = append(s.queue, r.msg)
		case "fail":
			if r.record != nil {
				if s.recordFails[r.msg.task] == nil {
					s.recordFails[r.msg.task] = map[int64]int{}
				}
				s.recordFails[r.msg.task][*r.record]++
			}
			s.handle(Failed{Task: r.msg.task, Attempt: r.msg.attempt, Err: "boom in " + r.msg.task.String(), Record: r.record})
		case "lost":
			// The reduce could not read a map's output: the object is gone.
			s.extra[r.msg.task]++
			s.lostReport[TaskID{r.msg.task.Job, mr.PhaseMap, r.lostMap}] = r.lostAttempt
			s.handle(InputLost{Task: r.msg.task, Attempt: r.msg.attempt, Map: r.lostMap, MapAttempt: r.lostAttempt, Err: "object not found"})
		case "ok":
			if _, done := s.commits[r.msg.task]; !done {
				s.commits[r.msg.task] = r.msg.attempt
				s.handle(Committed{Task: r.msg.task, Attempt: r.msg.attempt})
				if s.rand.IntN(10) == 0 { // the shell sees the record twice
					s.handle(Committed{Task: r.msg.task, Attempt: r.msg.attempt})
				}
			} else if s.rand.IntN(2) == 0 {
				// A late attempt lost the race; the shell may still see
				// the winner's record again.
				s.handle(Committed{Task: r.msg.task, Attempt: s.commits[r.msg.task]})
			}
		}
	}
	s.running = still
	// The stream loses a queued message now and then, and the shell
	// checks the queue every 20 steps.
	if len(s.queue) > 0 && s.rand.IntN(200) == 0 {
		i := s.rand.IntN(len(s.queue))
		s.log = append(s.log, fmt.Sprintf("-- the queue loses %v attempt %d --", s.queue[i].task, s.queue[i].attempt))
		s.queue = slices.Delete(s.queue, i, i+1)
		s.lost++
	}
	if s.now.Sub(s.checked) >= 20*simStep {
		s.checkQueue()
	}
	// Idle workers pull; a task already committed is skipped, as workers do.
	busy := map[int]bool{}
	for _, r := range s.running {
		busy[r.worker] = true
	}
	for w := range s.workers {
		if busy[w] {
			continue
		}
		i := slices.IndexFunc(s.queue, func(m simMsg) bool { return !s.now.Before(m.visible) })
		if i < 0 {
			break
		}
		msg := s.queue[i]
		s.queue = slices.Delete(s.queue, i, i+1)
		if _, done := s.commits[msg.task]; done {
			continue
		}
		s.handle(Started{Task: msg.task, Attempt: msg.attempt, Worker: fmt.Sprint("w", w)})
		d := time.Duration(20+s.rand.IntN(100)) * time.Millisecond
		if w == 0 && s.slowWorker { // a slow machine: every task of its takes ten times as long
			d *= 10
		}
		outcome := "ok"
		var record *int64
		switch x := s.rand.IntN(100); {
		case s.poison[msg.task]:
			outcome = "fail"
		case s.badRecord(msg) != nil:
			outcome, record = "fail", s.badRecord(msg)
		case x < 14 && s.skipBad && msg.task.Phase == mr.PhaseMap && x%2 == 0:
			// A failure on a record by chance: the next attempt gets past it.
			s.flaky++
			offset := s.flaky
			outcome, record = "fail", &offset
		case x < 5:
			outcome = "crash"
		case x < 10:
			d *= 20 // a straggler, past its deadline
		case x < 14:
			outcome = "fail"
		case x < 17 && msg.task.Phase == mr.PhaseReduce && s.maps > 0:
			outcome = "lost"
		}
		run := simRun{msg: msg, worker: w, finishAt: s.now.Add(d), outcome: outcome, record: record}
		if outcome == "lost" { // the reduce reads the map's commit now, and reports later
			run.lostMap, run.lostAttempt = s.rand.IntN(s.maps), -1
			if attempt, ok := s.commits[TaskID{msg.task.Job, mr.PhaseMap, run.lostMap}]; ok {
				run.lostAttempt = attempt
			}
		}
		s.running = append(s.running, run)
	}
	s.handle(Tick{})
}

// checkQueue is the shell's queue check (checkQueue): an attempt the core
// waits for, whose task has no message in the queue nor one a worker
// holds, and no commit, in two checks in a row, is requeued. That is no
// failure of the task.
func (s *sim) checkQueue() {
	s.checked = s.now
	missing := map[Attempt]bool{}
	for _, a := range s.core.Queued() {
		_, committed := s.commits[a.Task]
		held := slices.ContainsFunc(s.queue, func(m simMsg) bool { return m.task == a.Task }) ||
			slices.ContainsFunc(s.running, func(r simRun) bool { return r.msg.task == a.Task })
		if !committed && !held {
			missing[a] = true
		}
	}
	for _, a := range slices.SortedFunc(maps.Keys(missing), compareAttempts) {
		if s.missing[a] {
			s.extra[a.Task]++
			s.handle(Requeue(a))
		}
	}
	s.missing = missing
}

func TestCoreSimulation(t *testing.T) {
	seeds := 3000
	if n, err := strconv.Atoi(os.Getenv("DROVER_SIM_SEEDS")); err == nil {
		seeds = n // for a longer search
	}
	if testing.Short() {
		seeds = 300
	}
	crashes, skipping, tooBadFailed, lost := 0, 0, 0, 0
	for seed := range uint64(seeds) {
		if os.Getenv("DROVER_SIM_SEED") != "" && fmt.Sprint(seed) != os.Getenv("DROVER_SIM_SEED") {
			continue
		}
		s := newSim(t, seed)
		s.workers = 1 + s.rand.IntN(5)
		s.maps = s.rand.IntN(12)
		reduces := 1 + s.rand.IntN(4)
		poisoned := s.rand.IntN(8) == 0 && s.maps > 0
		if poisoned {
			s.poison[TaskID{"job", mr.PhaseMap, s.rand.IntN(s.maps)}] = true
		}
		s.speculation = s.rand.IntN(2) == 0
		s.slowWorker = s.rand.IntN(3) == 0
		sub := Submitted{Job: "job", Maps: s.maps, Reduces: reduces, MaxAttempts: s.maxAttempts, Timeout: simTimeout, Speculation: s.speculation}
		s.skipBad = s.rand.IntN(3) == 0
		s.maxSkipped = mr.DefaultMaxSkippedRecords
		tooBad := false // a map with more bad records than it may skip
		if s.skipBad {
			s.maxSkipped = 1 + s.rand.IntN(4)
			sub.SkipBadRecords, sub.MaxSkippedRecords = true, s.maxSkipped
			for i := range s.maps {
				if s.rand.IntN(3) == 0 {
					id := TaskID{"job", mr.PhaseMap, i}
					for range 1 + s.rand.IntN(5) {
						s.bad[id] = append(s.bad[id], int64(s.rand.IntN(1000)))
					}
					slices.Sort(s.bad[id])
					s.bad[id] = slices.Compact(s.bad[id])
					tooBad = tooBad || len(s.bad[id]) > s.maxSkipped
				}
			}
		}
		if s.rand.IntN(3) == 0 { // an earlier job's map outputs are reused
			for i := range s.maps {
				if id := (TaskID{"job", mr.PhaseMap, i}); s.rand.IntN(2) == 0 && !s.poison[id] && s.bad[id] == nil {
					s.reused[id], s.commits[id] = true, 0
					sub.Reused = append(sub.Reused, i)
				}
			}
		}
		s.handle(sub)
		start := s.now
		for len(s.finished) == 0 && s.now.Sub(start) < simLimit {
			s.step()
		}
		switch {
		case len(s.finished) != 1:
			s.fatalf("the job ended %d times in %v", len(s.finished), simLimit)
		case tooBad && !poisoned:
			if f := s.finished[0]; f.State != JobFailed || !strings.Contains(f.Err, "more bad records than") && !strings.Contains(f.Err, "failed 4 times") {
				s.fatalf("a job with a map of too many bad records ended %v %q, want failed saying so", f.State, f.Err)
			}
		case poisoned:
			// With the poison task's error, or another task's, when that
			// one ran out of attempts first.
			if f := s.finished[0]; f.State != JobFailed || !strings.Contains(f.Err, "boom in") && !strings.Contains(f.Err, "failed 4 times") {
				s.fatalf("a job with a poison task ended %v %q, want failed with the task's error", f.State, f.Err)
			}
		default:
			if f := s.finished[0]; f.State != JobDone && !(f.State == JobFailed && strings.Contains(f.Err, "failed 4 times")) {
				s.fatalf("job ended %v %q", f.State, f.Err)
			}
			if s.finished[0].State == JobDone {
				// Every reduce committed; every map too, but one whose
				// output was lost after the reduces had read it.
				for i := range reduces {
					if _, ok := s.commits[TaskID{"job", mr.PhaseReduce, i}]; !ok {
						s.fatalf("done without reduce %d committed", i)
					}
				}
				for i := range s.maps {
					if _, ok := s.commits[TaskID{"job", mr.PhaseMap, i}]; !ok && s.extra[TaskID{"job", mr.PhaseMap, i}] == 0 {
						s.fatalf("done without map %d committed", i)
					}
				}
			}
		}
		crashes += s.crashes
		lost += s.lost
		if f := s.finished[0]; f.State == JobDone && slices.ContainsFunc(slices.Collect(maps.Values(s.bad)), func(b []int64) bool { return len(b) > 1 }) {
			skipping++ // more bad records in one split than attempts could fail on them without skipping
		} else if strings.Contains(f.Err, "more bad records than") {
			tooBadFailed++
		}
	}
	if os.Getenv("DROVER_SIM_SEED") == "" && (crashes == 0 || skipping == 0 || tooBadFailed == 0 || lost == 0) {
		t.Errorf("%d master crashes, %d jobs done skipping several bad records of a split, %d failed with too many, %d task messages lost: want some of each",
			crashes, skipping, tooBadFailed, lost)
	}
	t.Logf("%d master crashes survived, %d jobs done skipping several bad records of a split, %d failed with too many, %d task messages lost",
		crashes, skipping, tooBadFailed, lost)
}
