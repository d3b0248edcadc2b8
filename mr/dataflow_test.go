package mr

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"strings"
	"testing"
)

// echo maps a line "k v" to the pair (k, v) and reduces to the values
// joined by "+", so that tests see order and grouping.
type echo struct{ panicOn string }

func (echo) Name() string    { return "echo" }
func (echo) Version() string { return "1" }
func (e echo) Map(_ context.Context, rec Record, emit Emit) error {
	if e.panicOn != "" && rec.Text == e.panicOn {
		panic("bad record")
	}
	k, v, _ := strings.Cut(rec.Text, " ")
	return emit(k, v)
}
func (echo) Reduce(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	var vs []string
	for v := range values {
		vs = append(vs, v)
	}
	return strings.Join(vs, "+"), nil
}

func lines(text string) iter.Seq2[Record, error] {
	return ReadSplit(strings.NewReader(text), int64(len(text)), Split{0, int64(len(text))}, "in")
}

func TestPairsRoundTrip(t *testing.T) {
	pairs := [][2]string{{"", ""}, {"k", "v"}, {"tab\tkey", "new\nline"}, {strings.Repeat("x", 300), "\x00"}}
	var b []byte
	for _, p := range pairs {
		b = appendPair(b, p[0], p[1])
	}
	r := newPairReader(bytes.NewReader(b))
	for _, p := range pairs {
		k, v, err := r.next()
		if err != nil || k != p[0] || v != p[1] {
			t.Fatalf("next() = %q, %q, %v; want %q, %q", k, v, err, p[0], p[1])
		}
	}
	if _, _, err := r.next(); err != io.EOF {
		t.Fatalf("after the last pair: %v, want io.EOF", err)
	}
	for cut := 1; cut < len(b); cut++ {
		r := newPairReader(bytes.NewReader(b[:cut]))
		var err error
		for err == nil {
			_, _, err = r.next()
		}
		if err != io.EOF && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("run cut at %d: %v", cut, err)
		}
	}
}

func TestReduceMergesInRunOrder(t *testing.T) {
	ctx := context.Background()
	var runs []io.Reader
	for _, text := range []string{"b 1\na 1\n", "a 2\nc 2\n", "b 3\n"} {
		parts, _, err := RunMap(ctx, echo{}, lines(text), 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, bytes.NewReader(parts[0]))
	}
	var out bytes.Buffer
	c, err := RunReduce(ctx, echo{}, runs, &out, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := "a 1+2\nb 1+3\nc 2\n"; out.String() != want {
		t.Errorf("reduce output %q, want %q", out.String(), want)
	}
	if c.InputRecords != 5 || c.OutputRecords != 3 {
		t.Errorf("counters %+v", c)
	}
}

func TestCorruptRunFailsReduce(t *testing.T) {
	parts, _, _ := RunMap(context.Background(), echo{}, lines("a 1\nb 2\n"), 1, nil)
	corrupt := parts[0][:len(parts[0])-1]
	_, err := RunReduce(context.Background(), echo{}, []io.Reader{bytes.NewReader(corrupt)}, io.Discard, nil)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reduce of a cut run = %v, want ErrCorrupt", err)
	}
}

func TestMapPanicNamesTheRecord(t *testing.T) {
	_, _, err := RunMap(context.Background(), echo{panicOn: "boom x"}, lines("a 1\nboom x\n"), 2, nil)
	var re *RecordError
	if !errors.As(err, &re) || re.Offset != 4 || !strings.Contains(err.Error(), "in byte 4") || !strings.Contains(err.Error(), "panic") {
		t.Fatalf("map panicking on the second record = %v, want a RecordError at byte 4", err)
	}
}
