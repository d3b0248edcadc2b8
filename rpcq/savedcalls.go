package rpcq

import (
	"cmp"
	"slices"
)

// savedCalls are a client's calls above its watermark in a MemoryTable.
//
// The calls of one client reach a server out of order (over several
// subscriptions), so a slice sorted by sequence number would move
// entries on most arrivals. Instead each call takes a slot that does not
// move while it is held, found through an index by sequence number once
// there are more than smallCalls (fewer are found by looking at each).
// A new watermark drops the calls at or below it by looking up each
// number it passes, or, when it jumps further than there are calls, by
// visiting the slots: one lookup per call for a client whose watermark
// follows its calls, and O(calls) at worst, whatever numbers a client
// sends. Memory follows the calls: it is given back when they are all
// dropped, and compacted when they fall to an eighth of the slots.
//
// Not safe for concurrent use: the table's lock guards it.
type savedCalls struct {
	ack   uint64 // every call at or below it is forgotten and refused
	slots []savedCall
	index *slotIndex // once more than smallCalls are held
}

// slotIndex finds the slots of many calls. It is a struct of its own so
// that a client with few calls, as most are, does not pay for its fields.
type slotIndex struct {
	bySeq map[uint64]int32
	free  int32 // 1 + the first slot not held; 0 for none
}

type savedCall struct {
	seq   uint64 // 0 for a free slot: sequence numbers start at 1
	done  bool
	next  int32 // in a free slot once indexed, as slotIndex.free
	reply Reply
	wait  chan struct{} // made for the first duplicate that waits
}

const (
	// smallCalls is how many calls a client holds without an index.
	smallCalls = 8
	// keptCalls is how many calls' room a client keeps once it has none
	// in flight: a client making one call at a time then allocates none.
	keptCalls = 4
	// compactFrom is how many slots a client must have before they are
	// compacted to the calls it holds.
	compactFrom = 256
)

// get returns the call seq, or nil. The pointer is good until the next
// add or acknowledge.
func (s *savedCalls) get(seq uint64) *savedCall {
	if s.index != nil {
		if i, ok := s.index.bySeq[seq]; ok {
			return &s.slots[i]
		}
		return nil
	}
	for i := range s.slots {
		if s.slots[i].seq == seq {
			return &s.slots[i]
		}
	}
	return nil
}

// add holds the call seq, which must be above the watermark and not
// held, and returns it as get does.
func (s *savedCalls) add(seq uint64) *savedCall {
	i := s.freeSlot()
	s.slots[i] = savedCall{seq: seq}
	if s.index != nil {
		s.index.bySeq[seq] = i
	} else if s.len() > smallCalls {
		s.reindex()
	}
	return &s.slots[i]
}

// freeSlot returns a slot not held, made if need be.
func (s *savedCalls) freeSlot() int32 {
	if x := s.index; x != nil {
		if x.free != 0 {
			i := x.free - 1
			x.free = s.slots[i].next
			return i
		}
	} else {
		for i := range s.slots { // at most smallCalls
			if s.slots[i].seq == 0 {
				return int32(i)
			}
		}
	}
	s.slots = append(s.slots, savedCall{})
	return int32(len(s.slots) - 1)
}

// reindex makes the index of the slots.
func (s *savedCalls) reindex() {
	x := &slotIndex{bySeq: make(map[uint64]int32, 2*len(s.slots))}
	for i := range s.slots {
		if c := &s.slots[i]; c.seq != 0 {
			x.bySeq[c.seq] = int32(i)
		} else {
			c.next, x.free = x.free, int32(i)+1
		}
	}
	s.index = x
}

// len is how many calls are held.
func (s *savedCalls) len() int {
	if s.index != nil {
		return len(s.index.bySeq)
	}
	n := 0
	for _, c := range s.slots { // at most smallCalls+1
		if c.seq != 0 {
			n++
		}
	}
	return n
}

// acknowledge raises the watermark to ack, forgetting the calls at or
// below it. A call still running is forgotten too: its client has given
// up on it and will not ask again, and a duplicate waiting on it is woken.
func (s *savedCalls) acknowledge(ack uint64) {
	if ack <= s.ack {
		return
	}
	from := s.ack
	s.ack = ack
	if len(s.slots) == 0 {
		return
	}
	if n := ack - from; s.index != nil && n <= uint64(len(s.index.bySeq)) {
		// Counted: seq <= ack would never fail for an ack of MaxUint64.
		for i := range n {
			if j, ok := s.index.bySeq[from+1+i]; ok {
				s.drop(j)
			}
		}
	} else {
		for j := range s.slots {
			if seq := s.slots[j].seq; seq != 0 && seq <= ack {
				s.drop(int32(j))
			}
		}
	}
	s.shrink()
}

func (s *savedCalls) drop(i int32) {
	c := &s.slots[i]
	if c.wait != nil {
		close(c.wait)
	}
	seq := c.seq
	*c = savedCall{}
	if x := s.index; x != nil {
		delete(x.bySeq, seq)
		c.next, x.free = x.free, i+1
	}
}

// shrink gives back the memory of calls that are gone: neither a slice
// nor a Go map gives back room when entries leave it.
func (s *savedCalls) shrink() {
	switch n := s.len(); {
	case n == 0 && (cap(s.slots) > keptCalls || s.index != nil):
		s.slots, s.index = nil, nil
	case n == 0:
		s.slots = s.slots[:0]
	case len(s.slots) >= compactFrom && n < len(s.slots)/8:
		slots := make([]savedCall, 0, 2*n)
		for _, c := range s.slots {
			if c.seq != 0 {
				slots = append(slots, c)
			}
		}
		s.slots, s.index = slots, nil
		if n > smallCalls {
			s.reindex()
		}
	}
}

// running reports whether a call is still running.
func (s *savedCalls) running() bool {
	for _, c := range s.slots {
		if c.seq != 0 && !c.done {
			return true
		}
	}
	return false
}

// finished returns the finished calls' saved replies in sequence order.
func (s *savedCalls) finished() []SavedCall {
	var out []SavedCall
	for _, c := range s.slots {
		if c.seq != 0 && c.done {
			out = append(out, SavedCall{Seq: c.seq, Reply: c.reply})
		}
	}
	slices.SortFunc(out, func(a, b SavedCall) int { return cmp.Compare(a.Seq, b.Seq) })
	return out
}
