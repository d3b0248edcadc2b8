package mr

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
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

// appendPair appends a pair as a run holds it.
func appendPair(b []byte, key, value string) []byte {
	b = binary.AppendUvarint(b, uint64(len(key)))
	b = append(b, key...)
	b = binary.AppendUvarint(b, uint64(len(value)))
	return append(b, value...)
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
		if err != nil || string(k) != p[0] || string(v) != p[1] {
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
	if want := (Counters{ReduceInputGroups: 3, ReduceInputRecords: 5, ReduceOutputRecords: 3}); c != want {
		t.Errorf("RunReduce counters = %v, want %v", c, want)
	}
}

// whole reduces a partition at once, writing each pair as a line.
type whole struct{ echo }

func (whole) ReducePartition(_ context.Context, pairs iter.Seq2[string, string], w io.Writer) error {
	for k, v := range pairs {
		fmt.Fprintf(w, "%s=%s\n", k, v)
	}
	return nil
}

func TestPartitionReducerCounters(t *testing.T) {
	ctx := context.Background()
	parts, _, err := RunMap(ctx, echo{}, lines("b 1\na 1\nb 2\n\n"), 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := RunReduce(ctx, whole{}, []io.Reader{bytes.NewReader(parts[0])}, io.Discard, nil)
	if want := (Counters{ReduceInputGroups: 3, ReduceInputRecords: 4, ReduceOutputRecords: 4}); err != nil || c != want {
		t.Errorf("RunReduce counters = %v, %v; want %v", c, err, want)
	}
}

// TestMapInputCounters: however an input is split and however its lines
// end, its maps count each line once and read its size in bytes.
func TestMapInputCounters(t *testing.T) {
	tests := []struct {
		name    string
		text    string
		records int64
	}{
		{"no final newline", "a 1\nb 2\nc 3", 3},
		{"final newline", "a 1\nb 2\n", 2},
		{"CRLF", "a 1\r\nb 2\r\n", 2},
		{"empty lines", "\n\na 1", 3},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			size := int64(len(tt.text))
			for splitSize := int64(1); splitSize <= size+1; splitSize++ {
				var c Counters
				for _, s := range Splits(size, splitSize) {
					recs := ReadSplit(strings.NewReader(tt.text), size, s, "in")
					_, sc, err := RunMap(context.Background(), echo{}, recs, 2, nil)
					if err != nil {
						t.Fatal(err)
					}
					c.Add(sc)
				}
				if c.MapInputRecords != tt.records || c.MapInputBytes != size || c.MapOutputRecords != tt.records {
					t.Errorf("maps of %q split every %d: %v, want %d input and output records of %d bytes", tt.text, splitSize, c, tt.records, size)
				}
			}
		})
	}
}

func TestCountersString(t *testing.T) {
	c := Counters{MapInputRecords: 1, MapInputBytes: 2, MapOutputRecords: 3, MapOutputBytes: 4, CombineInputRecords: 5,
		CombineOutputRecords: 6, ReduceInputGroups: 7, ReduceInputRecords: 8, ReduceOutputRecords: 9}
	want := "map input records 1, map input bytes 2, map output records 3, map output bytes 4, combine input records 5, " +
		"combine output records 6, reduce input groups 7, reduce input records 8, reduce output records 9"
	if got := c.String(); got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	c.MapSkippedRecords = 10
	if got := c.String(); !strings.Contains(got, "map input bytes 2, map skipped records 10, map output records 3") {
		t.Errorf("String() with skipped records = %q, want them after the input", got)
	}
	c.Sub(c)
	if c != (Counters{}) {
		t.Errorf("c.Sub(c) = %v, want zero", c)
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
