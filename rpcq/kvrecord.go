package rpcq

import (
	"cmp"
	"errors"
	"slices"
)

// The records of a KVTable's bucket. A client's record holds its
// watermark, the calls above it that were claimed, and the saved replies
// of those that finished, unless a reply was too large to share the
// record, when it has a call record of its own.

// Bounds of what a client's record holds, so that rewriting it costs
// little next to a call, and it stays far below any broker's max payload
// (1 MiB by default).
const (
	// sharedReplyMax is the largest reply, body and message, saved in its
	// client's record; a larger one has a call record of its own.
	sharedReplyMax = 4 << 10
	// clientRecordMax is the size past which a client's record takes no
	// more replies: those that would not fit have call records of their
	// own. Its claims are always written, whatever its size.
	clientRecordMax = 32 << 10
)

// callRecord is a call's own entry in the bucket, written when it finishes
// with a reply too large for its client's record.
type callRecord struct {
	Done  bool  `json:"d"`
	Reply Reply `json:"r"`
}

// clientRecord is a client's entry in the bucket: its watermark, the calls
// above it that were claimed, in increasing order, each with when it was
// claimed (Unix milliseconds by the claiming replica's clock), and the
// saved replies of claimed calls, in increasing order of call.
type clientRecord struct {
	Ack     uint64       `json:"a"`
	Claimed []uint64     `json:"c,omitempty"`
	At      []int64      `json:"t,omitempty"`
	Saved   []savedReply `json:"r,omitempty"`
}

// savedReply is a finished call's reply in its client's record, with when
// it was saved or last asked for (Unix milliseconds by the writing
// replica's clock, rounded up): it expires a lease later, as a call
// record does. It is encoded as an array, as a record holds many.
type savedReply struct {
	_msgpack struct{} `msgpack:",as_array"`
	Seq      uint64
	At       int64
	Code     int
	Message  string
	Body     []byte
	JSON     bool
}

func newSavedReply(seq uint64, at int64, r Reply) savedReply {
	return savedReply{Seq: seq, At: at, Code: r.Code, Message: r.Message, Body: r.Body, JSON: r.JSON}
}

func (s savedReply) reply() Reply {
	return Reply{Code: s.Code, Message: s.Message, Body: s.Body, JSON: s.JSON}
}

var errBadRecord = errors.New("calls out of order")

// check reports a record that this package cannot have written: its
// lookups need its lists sorted and above the watermark. The bucket is
// shared, and a record is read as a message from anywhere.
func (r clientRecord) check() error {
	for i, s := range r.Claimed {
		if s <= r.Ack || i > 0 && s <= r.Claimed[i-1] {
			return errBadRecord
		}
	}
	for i, s := range r.Saved {
		if s.Seq <= r.Ack || i > 0 && s.Seq <= r.Saved[i-1].Seq {
			return errBadRecord
		}
	}
	return nil
}

// claimed reports whether call seq was claimed: at or below the
// watermark, or listed.
func (r clientRecord) claimed(seq uint64) bool {
	_, found := slices.BinarySearch(r.Claimed, seq)
	return seq <= r.Ack || found
}

// claimedAt is when listed call seq was claimed, or 0 if the record does
// not say.
func (r clientRecord) claimedAt(seq uint64) int64 {
	i, found := slices.BinarySearch(r.Claimed, seq)
	if !found {
		return 0
	}
	return r.claimedAtIndex(i)
}

// saved returns the saved reply of call seq, if the record holds one.
func (r clientRecord) saved(seq uint64) (savedReply, bool) {
	i, found := slices.BinarySearchFunc(r.Saved, seq, bySeq)
	if !found {
		return savedReply{}, false
	}
	return r.Saved[i], true
}

func bySeq(s savedReply, seq uint64) int { return cmp.Compare(s.Seq, seq) }

// with is r with the watermark raised to ack and seqs, none of them
// listed yet, claimed at at. The saved replies above the watermark are
// kept.
func (r clientRecord) with(ack uint64, seqs []uint64, at int64) clientRecord {
	out := clientRecord{Ack: max(r.Ack, ack)}
	for i, s := range r.Claimed {
		if s > out.Ack {
			out.Claimed = append(out.Claimed, s)
			out.At = append(out.At, r.claimedAtIndex(i))
		}
	}
	for _, seq := range seqs {
		if seq > out.Ack {
			out.claim(seq, at)
		}
	}
	for _, s := range r.Saved {
		if s.Seq > out.Ack {
			out.Saved = append(out.Saved, s)
		}
	}
	return out
}

// claim lists call seq, above the watermark and not listed, as claimed at at.
func (r *clientRecord) claim(seq uint64, at int64) {
	i, _ := slices.BinarySearch(r.Claimed, seq)
	r.Claimed = slices.Insert(r.Claimed, i, seq)
	r.At = slices.Insert(r.At, i, at)
}

func (r clientRecord) claimedAtIndex(i int) int64 {
	if i < len(r.At) {
		return r.At[i]
	}
	return 0
}

// expire drops the saved replies last written before horizon (Unix
// milliseconds). Their calls stay claimed.
func (r *clientRecord) expire(horizon int64) {
	r.Saved = slices.DeleteFunc(r.Saved, func(s savedReply) bool { return s.At < horizon })
}

// touch marks the saved replies of seqs as written at at, so that they
// last another lease.
func (r *clientRecord) touch(seqs []uint64, at int64) {
	for _, seq := range seqs {
		if i, found := slices.BinarySearchFunc(r.Saved, seq, bySeq); found {
			r.Saved[i].At = at
		}
	}
}

// save adds the reply of call seq, above the watermark, saved at at, and
// claims the call if the record does not list it (its claim expired with
// an earlier record while it ran): a call with a saved reply is claimed.
func (r *clientRecord) save(seq uint64, reply Reply, at int64) {
	if !r.claimed(seq) {
		r.claim(seq, at)
	}
	i, found := slices.BinarySearchFunc(r.Saved, seq, bySeq)
	if found {
		r.Saved[i] = newSavedReply(seq, at, reply)
		return
	}
	r.Saved = slices.Insert(r.Saved, i, newSavedReply(seq, at, reply))
}

// size is at least the encoded size of r, without encoding it: msgpack
// writes an integer in at most 9 bytes, and the field names are short.
func (r clientRecord) size() int {
	n := 48 + 18*len(r.Claimed)
	for _, s := range r.Saved {
		n += savedSize(s.reply())
	}
	return n
}

// savedSize is at least the encoded size of a savedReply holding reply:
// an array header, three integers, a string, a byte string and a bool.
func savedSize(reply Reply) int { return 40 + len(reply.Body) + len(reply.Message) }

// decodeClientRecord reads a client's record from the bucket, and checks
// it: the bucket is shared, and a record is read as a message from
// anywhere. Msgpack refuses a value whose lists claim more than it holds
// (checkMsgpack).
func decodeClientRecord(data []byte) (clientRecord, error) {
	var rec clientRecord
	if err := Msgpack.Unmarshal(data, &rec); err != nil {
		return clientRecord{}, err
	}
	return rec, rec.check()
}
