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
		var back clientRecord
		if err := Msgpack.Unmarshal(data, &back); err != nil || back.check() != nil {
			t.Fatalf("record %d decoded = %v, check %v", i, err, back.check())
		}
		if len(back.Saved) != len(rec.Saved) || len(back.Saved) > 0 && !bytes.Equal(back.Saved[0].Body, rec.Saved[0].Body) {
			t.Fatalf("record %d: saved replies changed by encoding", i)
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
