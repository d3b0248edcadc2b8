package rpcq

import (
	"context"
	"runtime"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func newID(born time.Time, r uint64) string { return clientID{born: born.UnixNano(), rand: r}.String() }

func begin(t *testing.T, tab *MemoryTable, client string, seq, ack uint64, now time.Time) (Verdict, Reply, <-chan struct{}) {
	t.Helper()
	v, r, wait, err := tab.Begin(context.Background(), RequestID{client, seq}, ack, now)
	if err != nil {
		t.Fatalf("Begin(%s, %d) error %v", client, seq, err)
	}
	return v, r, wait
}

func TestClientIDRoundTrip(t *testing.T) {
	id := clientID{born: t0.UnixNano(), rand: 0xdeadbeef}
	got, err := parseClientID(id.String())
	if err != nil || got != id {
		t.Fatalf("parseClientID(%s) = %v, %v; want %v", id, got, err, id)
	}
	for _, bad := range []string{"", "abc", "zz" + id.String()[2:], id.String() + "0"} {
		if _, err := parseClientID(bad); err == nil {
			t.Errorf("parseClientID(%q) succeeded", bad)
		}
	}
}

func TestMemoryTableRunsOnce(t *testing.T) {
	tab := NewMemoryTable(t0, time.Minute)
	c := newID(t0.Add(time.Second), 1)
	now := t0.Add(2 * time.Second)
	if v, _, _ := begin(t, tab, c, 1, 0, now); v != Run {
		t.Fatalf("first arrival = %v, want Run", v)
	}
	v, _, wait := begin(t, tab, c, 1, 0, now)
	if v != Running || wait == nil {
		t.Fatalf("duplicate while running = %v, %v; want Running and a channel", v, wait)
	}
	want := Reply{Body: []byte("42")}
	if err := tab.Finish(context.Background(), RequestID{c, 1}, want); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wait:
	default:
		t.Fatal("Finish did not wake the waiting duplicate")
	}
	v, got, _ := begin(t, tab, c, 1, 0, now)
	if v != Answered || string(got.Body) != "42" {
		t.Fatalf("duplicate after Finish = %v %q, want Answered 42", v, got.Body)
	}
	if st := tab.Stats(); st.Executions != 1 || st.Duplicates != 1 || st.Entries != 1 {
		t.Errorf("Stats() = %+v", st)
	}
}

func TestMemoryTableWatermark(t *testing.T) {
	tab := NewMemoryTable(t0, time.Minute)
	c := newID(t0, 2)
	now := t0.Add(time.Second)
	for seq := uint64(1); seq <= 5; seq++ {
		begin(t, tab, c, seq, 0, now)
		tab.Finish(context.Background(), RequestID{c, seq}, Reply{})
	}
	if st := tab.Stats(); st.Entries != 5 {
		t.Fatalf("entries before ack = %d, want 5", st.Entries)
	}
	if v, _, _ := begin(t, tab, c, 6, 4, now); v != Run {
		t.Fatalf("seq 6 with ack 4 = %v, want Run", v)
	}
	if st := tab.Stats(); st.Entries != 2 {
		t.Errorf("entries after ack 4 = %d, want 2 (5 and 6)", st.Entries)
	}
	for _, seq := range []uint64{1, 4} {
		if v, _, _ := begin(t, tab, c, seq, 4, now); v != Stale {
			t.Errorf("replayed seq %d at or below the watermark = %v, want Stale", seq, v)
		}
	}
	if v, _, _ := begin(t, tab, c, 5, 4, now); v != Answered {
		t.Errorf("seq 5 above the watermark = %v, want Answered", v)
	}
}

func TestMemoryTableUnknownClients(t *testing.T) {
	since := t0.Add(time.Hour) // the table began an hour after t0
	tab := NewMemoryTable(since, time.Minute)
	now := since.Add(10 * time.Minute)
	tests := []struct {
		name string
		born time.Time
		want Verdict
	}{
		{"born before the table", since.Add(-time.Second), Stale},
		{"born longer ago than the lease", now.Add(-2 * time.Minute), Stale},
		{"born recently", now.Add(-time.Second), Run},
	}
	for i, tt := range tests {
		if v, _, _ := begin(t, tab, newID(tt.born, uint64(i)), 1, 0, now); v != tt.want {
			t.Errorf("%s: Begin = %v, want %v", tt.name, v, tt.want)
		}
	}
}

func TestMemoryTableExpire(t *testing.T) {
	tab := NewMemoryTable(t0, time.Minute)
	idle, busy := newID(t0, 1), newID(t0, 2)
	begin(t, tab, idle, 1, 0, t0)
	tab.Finish(context.Background(), RequestID{idle, 1}, Reply{})
	begin(t, tab, busy, 1, 0, t0) // still running
	if n := tab.Expire(t0.Add(2 * time.Minute)); n != 1 {
		t.Fatalf("Expire = %d, want 1 (the running client stays)", n)
	}
	// The expired client's replay is refused, not run again.
	if v, _, _ := begin(t, tab, idle, 1, 0, t0.Add(2*time.Minute)); v != Stale {
		t.Errorf("replay from an expired client = %v, want Stale", v)
	}
}

func TestMemoryTableAckWakesWaiters(t *testing.T) {
	tab := NewMemoryTable(t0, time.Minute)
	c := newID(t0, 3)
	begin(t, tab, c, 1, 0, t0)
	_, _, wait := begin(t, tab, c, 1, 0, t0)
	begin(t, tab, c, 2, 1, t0) // the client gave up on call 1
	select {
	case <-wait:
	default:
		t.Fatal("acknowledging a running call left its duplicate waiting")
	}
	if v, _, _ := begin(t, tab, c, 1, 1, t0); v != Stale {
		t.Errorf("call 1 after the ack = %v, want Stale", v)
	}
}

// TestMemoryTableSize: 100,000 clients that each made one call cost at
// most about 200 bytes each.
func TestMemoryTableSize(t *testing.T) {
	const clients = 100_000
	tab := NewMemoryTable(t0, time.Minute)
	ids := make([]string, clients)
	for i := range ids {
		ids[i] = newID(t0, uint64(i))
	}
	before := heapInUse()
	for _, id := range ids {
		begin(t, tab, id, 1, 0, t0)
		tab.Finish(context.Background(), RequestID{id, 1}, Reply{Body: []byte{0xc0}})
	}
	perClient := float64(heapInUse()-before) / clients
	runtime.KeepAlive(ids)
	t.Logf("%.0f bytes per client", perClient)
	if perClient > 200 {
		t.Errorf("table holds %.0f bytes per client, want at most 200", perClient)
	}
	if st := tab.Stats(); st.Clients != clients {
		t.Errorf("Stats().Clients = %d", st.Clients)
	}
	runtime.KeepAlive(tab)
}

func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapInuse)
}

func TestMemoryTableRestore(t *testing.T) {
	c := newID(t0, 9)
	// What a service's log holds: calls 1..3, the third acknowledging 1.
	tab := NewMemoryTable(t0, time.Minute)
	for _, r := range []struct{ seq, ack uint64 }{{1, 0}, {2, 0}, {3, 1}} {
		if err := tab.Restore(RequestID{c, r.seq}, r.ack, Reply{Body: []byte{byte(r.seq)}}, t0.Add(time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	now := t0.Add(2 * time.Second)
	if v, _, _ := begin(t, tab, c, 1, 0, now); v != Stale {
		t.Errorf("restored acknowledged call = %v, want Stale", v)
	}
	if v, r, _ := begin(t, tab, c, 3, 0, now); v != Answered || r.Body[0] != 3 {
		t.Errorf("restored call 3 = %v %v, want Answered with its reply", v, r.Body)
	}
	if v, _, _ := begin(t, tab, c, 4, 3, now); v != Run {
		t.Errorf("new call 4 = %v, want Run", v)
	}
}
