package tasks

import (
	"errors"
	"testing"
	"time"
)

var t0 = time.Unix(1_700_000_000, 0)

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Base: time.Second, Max: 10 * time.Second}
	for _, tc := range []struct {
		n    int
		u    float64
		want time.Duration
	}{
		{1, 0, 500 * time.Millisecond},
		{1, 0.999999999, 999999999 * time.Nanosecond},
		{2, 0, time.Second},
		{3, 0.5, 3 * time.Second},
		{4, 0, 4 * time.Second},
		{5, 0, 5 * time.Second}, // capped at Max
		{1000, 0.999999999, 9999999995 * time.Nanosecond},
	} {
		if got := b.Delay(tc.n, tc.u); got != tc.want {
			t.Errorf("Delay(%d, %v) = %v, want %v", tc.n, tc.u, got, tc.want)
		}
	}
}

func rec(state State, opts ...func(*record)) record {
	r := record{ID: "t", Type: "x", Queue: "q", State: state, Run: "r1", MaxRetry: 2, Timeout: int64(time.Minute)}
	for _, o := range opts {
		o(&r)
	}
	return r
}

func TestAdmit(t *testing.T) {
	later := t0.Add(time.Minute).UnixNano()
	for _, tc := range []struct {
		name string
		r    record
		run  string
		want verdict
		wait time.Duration
		why  error
	}{
		{"pending", rec(StatePending), "r1", verdictRun, 0, nil},
		{"message of an earlier run", rec(StatePending), "r0", verdictDrop, 0, nil},
		{"done", rec(StateDone), "r1", verdictDrop, 0, nil},
		{"archived", rec(StateArchived), "r1", verdictDrop, 0, nil},
		{"scheduled early", rec(StateScheduled, func(r *record) { r.ProcessAt = later }), "r1", verdictWait, time.Minute, nil},
		{"scheduled due", rec(StateScheduled, func(r *record) { r.ProcessAt = t0.UnixNano() }), "r1", verdictRun, 0, nil},
		{"retrying early", rec(StateRetrying, func(r *record) { r.ProcessAt = later }), "r1", verdictWait, time.Minute, nil},
		{"past deadline", rec(StatePending, func(r *record) { r.Deadline = t0.UnixNano() }), "r1", verdictArchive, 0, ErrDeadline},
		{"lease lost", rec(StateRunning), "r1", verdictRun, 0, nil},
		{"lease lost, no retry left", rec(StateRunning, func(r *record) { r.Retried = 2 }), "r1", verdictArchive, 0, ErrLeaseExpired},
	} {
		v, wait, why := admit(tc.r, tc.run, t0)
		if v != tc.want || wait != tc.wait || !errors.Is(why, tc.why) {
			t.Errorf("admit(%s) = %v, %v, %v; want %v, %v, %v", tc.name, v, wait, why, tc.want, tc.wait, tc.why)
		}
	}
}

func TestStartedCountsALostLeaseAsARetry(t *testing.T) {
	r := started(rec(StatePending), "w1", 7, t0)
	if r.State != StateRunning || r.Attempt != 1 || r.Retried != 0 || r.Worker != "w1" {
		t.Fatalf("started(pending) = %+v", r)
	}
	r = started(r, "w2", 9, t0.Add(time.Second))
	if r.Attempt != 2 || r.Retried != 1 || r.LastError != ErrLeaseExpired.Error() || r.Worker != "w2" || r.Seq != 9 {
		t.Fatalf("started(running) = %+v, want a retry counted for the lost lease", r)
	}
}

func TestFailed(t *testing.T) {
	b := Backoff{Base: time.Second, Max: time.Minute}
	r := failed(rec(StateRunning), "boom", false, t0, b, 0)
	if r.State != StateRetrying || r.Retried != 1 || r.ProcessAt != t0.Add(500*time.Millisecond).UnixNano() || r.LastError != "boom" {
		t.Fatalf("failed once = %+v, want retrying in 500ms", r)
	}
	r = failed(rec(StateRunning, func(r *record) { r.Retried = 2 }), "boom", false, t0, b, 0)
	if r.State != StateArchived || r.CompletedAt != t0.UnixNano() {
		t.Fatalf("failed with no retry left = %+v, want archived", r)
	}
	r = failed(rec(StateRunning), "bad", true, t0, b, 0)
	if r.State != StateArchived || r.Retried != 0 {
		t.Fatalf("failed with skip = %+v, want archived at once", r)
	}
	r = failed(rec(StateRunning, func(r *record) { r.Deadline = t0.Add(100 * time.Millisecond).UnixNano() }), "boom", false, t0, b, 0)
	if r.State != StateArchived || r.LastError != ErrDeadline.Error()+" before the next retry: boom" {
		t.Fatalf("failed with the deadline before the retry = %+v, want archived", r)
	}
	long := string(make([]byte, 2*MaxErrorLen))
	if r := failed(rec(StateRunning), long, false, t0, b, 0); len(r.LastError) != MaxErrorLen {
		t.Fatalf("an error of %d bytes kept as %d, want %d", len(long), len(r.LastError), MaxErrorLen)
	}
}

func TestTTL(t *testing.T) {
	for _, tc := range []struct {
		r    record
		want time.Duration
	}{
		{rec(StatePending), 0},
		{rec(StateRunning), 0},
		{rec(StateDone), time.Second},
		{rec(StateDone, func(r *record) { r.Retention = int64(1500 * time.Millisecond) }), 2 * time.Second},
		{rec(StateArchived, func(r *record) { r.ArchiveFor = int64(time.Hour) }), time.Hour},
	} {
		if got := ttl(tc.r); got != tc.want {
			t.Errorf("ttl(%s, retention %v) = %v, want %v", tc.r.State, time.Duration(tc.r.Retention), got, tc.want)
		}
	}
}

func TestRerun(t *testing.T) {
	r := rerun(rec(StateArchived, func(r *record) { r.Retried, r.Result = 2, []byte("x") }), "r2", t0)
	if r.State != StatePending || r.Run != "r2" || r.Retried != 0 || r.Result != nil {
		t.Fatalf("rerun = %+v", r)
	}
}

func TestParseQueueSubject(t *testing.T) {
	for _, tc := range []struct {
		subj, queue, id string
		ok              bool
	}{
		{QueueSubject("q", "id-1"), "q", "id-1", true},
		{"drover.tq.q.q.a.b", "", "", false},
		{"drover.tq.q.q", "", "", false},
		{"other.q.id", "", "", false},
		{"drover.tq.q.q.*", "", "", false},
	} {
		q, id, ok := parseQueueSubject(tc.subj)
		if ok != tc.ok || ok && (q != tc.queue || id != tc.id) {
			t.Errorf("parseQueueSubject(%q) = %q, %q, %v; want %q, %q, %v", tc.subj, q, id, ok, tc.queue, tc.id, tc.ok)
		}
	}
}

func TestNewRecordOptions(t *testing.T) {
	task := &Task{Type: "x"}
	id := func() string { return "drawn" }
	r, err := newRecord(task, nil, t0, time.Hour, id)
	if err != nil || r.ID != "drawn" || r.Queue != DefaultQueue || r.MaxRetry != DefaultMaxRetry ||
		r.Timeout != int64(DefaultTimeout) || r.State != StatePending || r.ArchiveFor != int64(time.Hour) {
		t.Fatalf("newRecord with defaults = %+v, %v", r, err)
	}
	dl := t0.Add(time.Hour)
	r, err = newRecord(task, []Option{TaskID("a"), Queue("q"), Group("g"), MaxRetry(0), Timeout(time.Second),
		Deadline(dl), ProcessIn(time.Minute), Retention(time.Hour)}, t0, time.Hour, id)
	if err != nil || r.ID != "a" || r.Queue != "q" || r.Group != "g" || r.MaxRetry != 0 || r.Timeout != int64(time.Second) ||
		r.Deadline != dl.UnixNano() || r.State != StateScheduled || r.ProcessAt != t0.Add(time.Minute).UnixNano() ||
		r.Retention != int64(time.Hour) {
		t.Fatalf("newRecord with options = %+v, %v", r, err)
	}
	if r, _ := newRecord(task, []Option{ProcessAt(t0.Add(-time.Minute))}, t0, time.Hour, id); r.State != StatePending || r.ProcessAt != 0 {
		t.Fatalf("newRecord due in the past = %+v, want pending", r)
	}
}
