package rpcq

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// checkSaved compares s with want, the calls it should hold.
func checkSaved(t *testing.T, step int, s *savedCalls, want map[uint64]bool) {
	t.Helper()
	if s.len() != len(want) {
		t.Fatalf("step %d: len() = %d, want %d", step, s.len(), len(want))
	}
	held := 0
	for i, c := range s.slots {
		if c.seq == 0 {
			continue
		}
		held++
		if !want[c.seq] {
			t.Fatalf("step %d: slot %d holds call %d, want it dropped", step, i, c.seq)
		}
		if got := s.get(c.seq); got != &s.slots[i] {
			t.Fatalf("step %d: get(%d) = %p, want slot %d", step, c.seq, got, i)
		}
	}
	if held != len(want) {
		t.Fatalf("step %d: %d slots held, want %d", step, held, len(want))
	}
	if s.index != nil && len(s.index.bySeq) != len(want) {
		t.Fatalf("step %d: index has %d entries, want %d", step, len(s.index.bySeq), len(want))
	}
	if len(s.slots) >= compactFrom && len(want) < len(s.slots)/8 {
		t.Fatalf("step %d: %d slots for %d calls", step, len(s.slots), len(want))
	}
}

// TestSavedCallsModel runs seeded random arrivals, out of order and
// duplicated, and watermarks, small steps and hostile jumps, against a
// plain set of what must be held.
func TestSavedCallsModel(t *testing.T) {
	for seed := range uint64(20) {
		r := rand.New(rand.NewPCG(seed, 1))
		var s savedCalls
		want := map[uint64]bool{}
		waits := map[uint64]chan struct{}{}
		next := uint64(1)
		for step := range 5000 {
			switch op := r.IntN(10); {
			case op < 6: // an arrival, up to 40 ahead of the next in order
				seq := s.ack + 1 + uint64(r.IntN(40))
				if op == 5 {
					seq = next
					next++
				}
				if seq <= s.ack {
					break
				}
				if c := s.get(seq); c != nil {
					if !want[seq] {
						t.Fatalf("step %d: get(%d) found a dropped call", step, seq)
					}
					if c.wait == nil && r.IntN(2) == 0 {
						c.wait = make(chan struct{})
						waits[seq] = c.wait
					}
					break
				}
				if want[seq] {
					t.Fatalf("step %d: get(%d) = nil, want it held", step, seq)
				}
				s.add(seq).done = r.IntN(2) == 0
				want[seq] = true
			case op < 9: // the watermark follows
				s.acknowledge(s.ack + uint64(r.IntN(6)))
			default: // it jumps
				ack := s.ack + uint64(r.IntN(1000))
				if r.IntN(50) == 0 {
					ack = math.MaxUint64 - uint64(r.IntN(3))
				}
				s.acknowledge(ack)
			}
			for seq := range want {
				if seq <= s.ack {
					delete(want, seq)
				}
			}
			for seq, w := range waits {
				if seq <= s.ack {
					select {
					case <-w:
					default:
						t.Fatalf("step %d: call %d dropped with its waiter asleep", step, seq)
					}
					delete(waits, seq)
				}
			}
			checkSaved(t, step, &s, want)
			if s.ack > math.MaxUint64/2 {
				s, want, waits, next = savedCalls{}, map[uint64]bool{}, map[uint64]chan struct{}{}, 1
			}
		}
	}
}

// TestSavedCallsMemory: many calls held once, then few, take the room
// of few; none take none.
func TestSavedCallsMemory(t *testing.T) {
	var s savedCalls
	for seq := uint64(1); seq <= 10_000; seq++ {
		s.add(seq)
	}
	s.acknowledge(9_990)
	if s.len() != 10 || len(s.slots) > 40 || s.index == nil {
		t.Errorf("10 calls held in %d slots (index %v), want at most 40, indexed", len(s.slots), s.index != nil)
	}
	if got := slices.Collect(func(yield func(uint64) bool) {
		for _, c := range s.finished() {
			yield(c.Seq)
		}
	}); len(got) != 0 {
		t.Errorf("finished() = %v, want none: no call is done", got)
	}
	for seq := uint64(9_991); seq <= 10_000; seq++ {
		s.get(seq).done = true
	}
	if got := s.finished(); len(got) != 10 || got[0].Seq != 9_991 || got[9].Seq != 10_000 {
		t.Errorf("finished() = %v, want calls 9991 to 10000 in order", got)
	}
	s.acknowledge(math.MaxUint64)
	if s.len() != 0 || s.slots != nil || s.index != nil {
		t.Errorf("no call held, yet %d slots and index %v", len(s.slots), s.index != nil)
	}
}

// TestSavedCallsTopOfRange: calls numbered up to the largest uint64 are
// dropped by a watermark of it, counted rather than compared past it.
func TestSavedCallsTopOfRange(t *testing.T) {
	s := savedCalls{ack: math.MaxUint64 - 21}
	for seq := uint64(math.MaxUint64); seq > math.MaxUint64-21; seq-- {
		s.add(seq)
	}
	if s.index == nil {
		t.Fatal("21 calls held without an index")
	}
	s.acknowledge(math.MaxUint64)
	if s.len() != 0 {
		t.Errorf("len() = %d after a watermark of MaxUint64, want 0", s.len())
	}
}
