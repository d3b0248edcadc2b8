package rpcq

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
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
// the decoded arguments, the encoded reply and the reply boxed for the
// codec, and no cell for the arguments.
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
	if allocs > 3 {
		t.Errorf("a call of funcMethod(echo) allocates %v times, want at most 3", allocs)
	}
}
