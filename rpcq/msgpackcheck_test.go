package rpcq

import (
	"bytes"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

type checkItem struct {
	Name  string
	Sizes []int64
	Raw   []byte
	When  time.Time
	Ratio float64
	Next  *checkItem
}

// TestCheckMsgpackAcceptsWhatIsEncoded: every value msgpack encodes, of
// every kind and length class, passes, with bytes after it or not; every
// proper prefix of it is refused.
func TestCheckMsgpackAcceptsWhatIsEncoded(t *testing.T) {
	values := []any{
		nil, true, false, 0, 1, -1, 127, 128, -33, 255, 256, 65535, 65536, math.MaxInt64, math.MinInt64,
		uint64(math.MaxUint64), float32(1.5), 2.5, "", "a", strings.Repeat("s", 31), strings.Repeat("s", 32),
		strings.Repeat("s", 255), strings.Repeat("s", 256), strings.Repeat("s", 65536),
		[]byte{}, []byte("b"), bytes.Repeat([]byte("b"), 256), bytes.Repeat([]byte("b"), 65536),
		[]int{}, []int{1, 2, 3}, make([]int, 16), make([]int, 65536), map[string]int{}, map[string]int{"a": 1},
		map[int]string{1: "a", 2: "b", 3: "c", 4: "d", 5: "e", 6: "f", 7: "g", 8: "h", 9: "i", 10: "j", 11: "k", 12: "l", 13: "m", 14: "n", 15: "o", 16: "p"},
		time.Unix(1, 0), time.Unix(1, 5), time.Unix(1<<40, 5),
		checkItem{Name: "a", Sizes: []int64{1, 1 << 40}, Raw: []byte("x"), When: time.Now(), Ratio: 0.5, Next: &checkItem{Name: "b"}},
		[]checkItem{{Name: "a"}, {Name: "b", Next: &checkItem{}}},
		[]any{[]any{[]any{}}, map[string]any{"k": []any{1, "x", nil}}},
	}
	for _, v := range values {
		data, err := msgpack.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if err := checkMsgpack(data); err != nil {
			t.Errorf("checkMsgpack(%T %.40x) = %v, want nil", v, data, err)
		}
		if err := checkMsgpack(append(data, 0xc1, 0xff)); err != nil {
			t.Errorf("checkMsgpack(%T, bytes after) = %v, want nil", v, err)
		}
		for n := range len(data) {
			if checkMsgpack(data[:n]) == nil {
				t.Errorf("checkMsgpack(%T cut to %d of %d bytes) = nil, want an error", v, n, len(data))
				break
			}
		}
	}
}

// TestCheckMsgpackRefusesWhatCannotBeThere: headers that claim more than
// the body holds, nesting past the bound, and the unused code.
func TestCheckMsgpackRefusesWhatCannotBeThere(t *testing.T) {
	deep := func(n int) []byte { return append(bytes.Repeat([]byte{0x91}, n), 0x01) }
	for _, tc := range []struct {
		name string
		data []byte
		ok   bool
	}{
		{"array32 of 2^31", []byte{0xdd, 0x7f, 0xff, 0xff, 0xff}, false},
		{"array16 of 3 with 2", []byte{0xdc, 0x00, 0x03, 0x01, 0x02}, false},
		{"map32 of 2^32-1", []byte{0xdf, 0xff, 0xff, 0xff, 0xff}, false},
		{"fixmap of 1 with a key alone", []byte{0x81, 0xa1, 'k'}, false},
		{"str32 of 4 GiB", []byte{0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}, false},
		{"bin8 of 3 with 2", []byte{0xc4, 0x03, 'a', 'b'}, false},
		{"ext32 of 2^31", []byte{0xc9, 0x7f, 0xff, 0xff, 0xff, 0x01}, false},
		{"fixext16 short", append([]byte{0xd8, 0x01}, make([]byte, 15)...), false},
		{"array16 cut in its header", []byte{0xdc, 0x00}, false},
		{"unused code", []byte{0xc1}, false},
		{"empty", nil, false},
		{"a list in a map claiming 2^31", []byte{0x81, 0xa1, 'S', 0xdd, 0x7f, 0xff, 0xff, 0xff}, false},
		{"nested to the bound", deep(maxMsgpackDepth), true},
		{"nested past the bound", deep(maxMsgpackDepth + 1), false},
	} {
		if err := checkMsgpack(tc.data); (err == nil) != tc.ok {
			t.Errorf("%s: checkMsgpack(%x) = %v, want ok %v", tc.name, tc.data, err, tc.ok)
		}
	}
}

// TestMsgpackUnmarshalAllocatesByBody: a body of a few bytes whose list
// claims four million structs is refused without allocating them, as the
// msgpack module alone would (256 MB here; gigabytes for a longer claim).
func TestMsgpackUnmarshalAllocatesByBody(t *testing.T) {
	body := []byte{0x81, 0xa4, 'L', 'i', 's', 't', 0xdd, 0x00, 0x40, 0x00, 0x00, 0xc0}
	var v struct{ List []checkItem }
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := Msgpack.Unmarshal(body, &v)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatalf("Unmarshal of a list claiming 4M items in %d bytes = nil, want an error", len(body))
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("Unmarshal of %d bytes allocated %d bytes", len(body), grew)
	}
}
