package rpcq

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

// keeper keeps the pointer its UnmarshalJSON is called on.
type keeper struct{ V string }

var kept []*keeper

func (k *keeper) UnmarshalJSON(b []byte) error {
	kept = append(kept, k)
	return json.Unmarshal(b, &k.V)
}

type withKeeper struct {
	N int
	K keeper
}

type byPointer struct {
	K *keeper // the codec allocates what it points to
	S []keeper
}

type stamp struct{ T time.Time } // time.Time has UnmarshalJSON on *Time

func TestCellPoolable(t *testing.T) {
	tests := []struct {
		t    reflect.Type
		want bool
	}{
		{reflect.TypeFor[[]byte](), true},
		{reflect.TypeFor[string](), true},
		{reflect.TypeFor[struct{ A, B int }](), true},
		{reflect.TypeFor[map[string]keeper](), true},
		{reflect.TypeFor[byPointer](), true},
		{reflect.TypeFor[*keeper](), true},
		{reflect.TypeFor[keeper](), false},
		{reflect.TypeFor[withKeeper](), false},
		{reflect.TypeFor[[2]keeper](), false},
		{reflect.TypeFor[stamp](), false},
	}
	for _, tt := range tests {
		if got := cellPoolable(tt.t); got != tt.want {
			t.Errorf("cellPoolable(%v) = %v, want %v", tt.t, got, tt.want)
		}
	}
}

// TestFuncMethodArgsAreTheHandlers checks that arguments a handler keeps
// stay as they were when later calls decode theirs, and that a pointer
// an unmarshaler keeps is never reused.
func TestFuncMethodArgsAreTheHandlers(t *testing.T) {
	var got [][]byte
	echo := funcMethod(func(_ context.Context, args []byte) ([]byte, error) {
		got = append(got, args)
		return args, nil
	})
	var keepers []withKeeper
	keep := funcMethod(func(_ context.Context, args withKeeper) (int, error) {
		keepers = append(keepers, args)
		return args.N, nil
	})
	kept = nil
	for i := range 20 {
		body, err := Msgpack.Marshal([]byte{byte(i), byte(i)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := echo(context.Background(), Msgpack, body); err != nil {
			t.Fatal(err)
		}
		body = fmt.Appendf(nil, `{"N":%d,"K":"x"}`, i)
		if _, err := keep(context.Background(), JSON, body); err != nil {
			t.Fatal(err)
		}
	}
	for i, args := range got {
		if want := []byte{byte(i), byte(i)}; string(args) != string(want) {
			t.Errorf("call %d kept %v, want %v", i, args, want)
		}
	}
	seen := map[*keeper]bool{}
	for i, k := range kept {
		if seen[k] {
			t.Errorf("call %d decoded into a pointer an earlier call's unmarshaler kept", i)
		}
		seen[k] = true
	}
	for i, args := range keepers {
		if args.N != i {
			t.Errorf("call %d kept N = %d, want %d", i, args.N, i)
		}
	}
}

// TestFuncMethodAllocs counts what a call of a []byte echo allocates:
// the decoded arguments and the encoded reply, and no cell for the
// arguments or the reply.
func TestFuncMethodAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector drops pooled values at random")
	}
	echo := funcMethod(func(_ context.Context, args []byte) ([]byte, error) { return args, nil })
	body, err := Msgpack.Marshal(make([]byte, 128))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := echo(ctx, Msgpack, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("a call of funcMethod(echo) allocates %v times, want at most 2", allocs)
	}
}

// upper encodes itself as its upper-case text, by a method with a value
// receiver.
type upper string

func (u upper) MarshalJSON() ([]byte, error) { return json.Marshal(strings.ToUpper(string(u))) }

// ptrUpper is upper with a pointer receiver: a value of it encodes as
// plain text, and only a pointer to it upper-case.
type ptrUpper string

func (u *ptrUpper) MarshalJSON() ([]byte, error) { return json.Marshal(strings.ToUpper(string(*u))) }

type tagged struct {
	Name  string `json:"name"`
	Count int    `json:"count,omitempty"`
	U     upper
}

// replyAs is what funcMethod answers for a handler returning v.
func replyAs[R any](t *testing.T, codec Codec, v R) []byte {
	t.Helper()
	out, err := funcMethod(func(context.Context, struct{}) (R, error) { return v, nil })(context.Background(), codec, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFuncMethodReplyEncoding checks that a reply encoded from its
// pooled cell encodes as the value itself.
func TestFuncMethodReplyEncoding(t *testing.T) {
	for _, codec := range []Codec{Msgpack, JSON} {
		check := func(name string, got []byte, v any) {
			t.Helper()
			want, err := codec.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("%s reply %s = %q, want %q", codec.ContentType(), name, got, want)
			}
		}
		check("[]byte", replyAs(t, codec, []byte("abc")), []byte("abc"))
		check("nil []byte", replyAs[[]byte](t, codec, nil), []byte(nil))
		check("struct", replyAs(t, codec, tagged{Name: "x", U: "u"}), tagged{Name: "x", U: "u"})
		check("*struct", replyAs(t, codec, &tagged{Count: 2}), &tagged{Count: 2})
		check("nil *struct", replyAs[*tagged](t, codec, nil), (*tagged)(nil))
		check("map", replyAs(t, codec, map[string]int{"a": 1}), map[string]int{"a": 1})
		check("int", replyAs(t, codec, 300), 300)
		check("upper", replyAs(t, codec, upper("u")), upper("u"))
		check("ptrUpper", replyAs(t, codec, ptrUpper("u")), ptrUpper("u"))
		check("any", replyAs[any](t, codec, "s"), "s")
		check("time", replyAs(t, codec, t0), t0)
	}
}
