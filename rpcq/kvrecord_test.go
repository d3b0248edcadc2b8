package rpcq

import (
	"bytes"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// A record's size, which decides what it takes without encoding it, is
// never less than its encoding, whatever its numbers.
func TestClientRecordSizeBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 200 {
		rec := clientRecord{Ack: rng.Uint64() >> rng.IntN(64)}
		n := rng.IntN(40)
		for seq := rec.Ack + 1; len(rec.Claimed) < n && seq != 0; seq += 1 + rng.Uint64N(1<<uint(rng.IntN(40))) {
			rec.claim(seq, rng.Int64()>>rng.IntN(63))
			if rng.IntN(2) == 0 {
				reply := Reply{Code: rng.IntN(1000) - 500, JSON: rng.IntN(2) == 0,
					Message: string(bytes.Repeat([]byte("m"), rng.IntN(300))), Body: bytes.Repeat([]byte{1}, rng.IntN(5000))}
				rec.save(seq, reply, math.MinInt64>>rng.IntN(63))
			}
		}
		data, err := Msgpack.Marshal(rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > rec.size() {
			t.Fatalf("record %d: size() = %d, encoded %d bytes", i, rec.size(), len(data))
		}
		back, err := decodeClientRecord(data)
		if err != nil {
			t.Fatalf("record %d decoded = %v", i, err)
		}
		same := back.Ack == rec.Ack && slices.Equal(back.Claimed, rec.Claimed) && slices.Equal(back.At, rec.At) &&
			slices.EqualFunc(back.Saved, rec.Saved, func(a, b savedReply) bool {
				return a.Seq == b.Seq && a.At == b.At && a.Code == b.Code && a.Message == b.Message && bytes.Equal(a.Body, b.Body) && a.JSON == b.JSON
			})
		if !same {
			t.Fatalf("record %d changed by encoding: %+v, want %+v", i, back, rec)
		}
	}
}

func TestClientRecordCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		rec  clientRecord
		ok   bool
	}{
		{"empty", clientRecord{}, true},
		{"sorted", clientRecord{Ack: 1, Claimed: []uint64{2, 5}, Saved: []savedReply{{Seq: 2}, {Seq: 5}}}, true},
		{"claim at the watermark", clientRecord{Ack: 2, Claimed: []uint64{2}}, false},
		{"claims out of order", clientRecord{Claimed: []uint64{5, 2}}, false},
		{"claim twice", clientRecord{Claimed: []uint64{2, 2}}, false},
		{"reply at the watermark", clientRecord{Ack: 3, Saved: []savedReply{{Seq: 3}}}, false},
		{"replies out of order", clientRecord{Saved: []savedReply{{Seq: 4}, {Seq: 3}}}, false},
	} {
		if err := tc.rec.check(); (err == nil) != tc.ok {
			t.Errorf("%s: check() = %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}

// The lifecycle of saved replies in a record: saved (claiming a call the
// record forgot), kept by a new claim, refreshed, expired, and dropped
// by the watermark.
func TestClientRecordSavedReplies(t *testing.T) {
	var rec clientRecord
	rec = rec.with(0, []uint64{1, 2, 3}, 100)
	rec.save(2, Reply{Body: []byte("two")}, 110)
	rec.save(5, Reply{Body: []byte("five")}, 120) // its claim expired with an earlier record
	if !rec.claimed(5) || rec.claimedAt(5) != 120 {
		t.Errorf("a saved reply's call is not claimed: %+v", rec)
	}
	rec = rec.with(1, []uint64{4}, 130)
	if s, ok := rec.saved(2); !ok || string(s.reply().Body) != "two" || s.At != 110 {
		t.Errorf("saved(2) after a claim = %+v, %v", s, ok)
	}
	rec.touch([]uint64{5, 7}, 200)
	rec.expire(150)
	if _, ok := rec.saved(2); ok {
		t.Error("an expired reply is still saved")
	}
	if s, ok := rec.saved(5); !ok || s.At != 200 {
		t.Errorf("saved(5) after touch = %+v, %v", s, ok)
	}
	if !rec.claimed(2) {
		t.Error("an expired reply's call is no longer claimed")
	}
	rec = rec.with(5, nil, 210)
	if len(rec.Saved) != 0 || !slices.Equal(rec.Claimed, []uint64(nil)) || rec.check() != nil {
		t.Errorf("record after the watermark passed every call = %+v", rec)
	}
}

// FuzzClientRecord feeds arbitrary values of a client's key to the
// table's decoding: a record that decodes and passes check answers its
// lookups, takes claims and replies and encodes again, and nothing
// panics.
func FuzzClientRecord(f *testing.F) {
	var rec clientRecord
	rec = rec.with(3, []uint64{5, 9}, 100)
	rec.save(9, Reply{Code: 500, Message: "m", Body: []byte("b"), JSON: true}, 120)
	good, _ := Msgpack.Marshal(rec)
	f.Add(good)
	f.Add([]byte{})
	f.Add([]byte{0x84, 0xa1, 'r', 0xdd, 0x7f, 0xff, 0xff, 0xff}) // a list claiming 2G replies
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := decodeClientRecord(data)
		if err != nil {
			return
		}
		for _, seq := range []uint64{0, 1, rec.Ack, rec.Ack + 1, math.MaxUint64} {
			rec.claimed(seq)
			rec.claimedAt(seq)
			rec.saved(seq)
		}
		next := rec.with(rec.Ack, []uint64{rec.Ack + 1}, 1)
		if next.Ack < math.MaxUint64 {
			next.save(next.Ack+1, Reply{Body: []byte("x")}, 2)
		}
		next.expire(0)
		if err := next.check(); err != nil {
			t.Fatalf("a checked record, with a claim and a reply, fails its check: %v", err)
		}
		if _, err := Msgpack.Marshal(next); err != nil {
			t.Fatal(err)
		}
	})
}
