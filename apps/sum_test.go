package apps_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/mr"
)

// logs makes n lines of `host bytes` over a few hosts, with blank lines
// and assorted whitespace, and the totals they add up to.
func logs(name string, n int, seed uint64, totals map[string]int64) mr.NamedInput {
	rng := rand.New(rand.NewPCG(seed, 1))
	var b strings.Builder
	for range n {
		host := fmt.Sprintf("host%d", rng.IntN(40))
		v := rng.Int64N(1<<20) - 1<<10
		totals[host] += v
		fmt.Fprintf(&b, "%s%s%d\n", host, []string{" ", "\t", "   "}[rng.IntN(3)], v)
		if rng.IntN(50) == 0 {
			b.WriteString("\n")
		}
	}
	return mr.NamedInput{Name: name, Data: []byte(b.String())}
}

// TestSum: the distributed sum over splits is byte-identical to the
// sequential one, and both are the totals the lines add up to.
func TestSum(t *testing.T) {
	totals := map[string]int64{}
	inputs := []mr.NamedInput{logs("a.log", 5000, 1, totals), logs("b.log", 3000, 2, totals)}
	app := newApp(t, "sum")
	want, err := mr.Sequential(context.Background(), app, inputs, 3)
	if err != nil {
		t.Fatal(err)
	}
	got := distributed(t, app, inputs, 3, 4<<10)
	for p := range want {
		if !bytes.Equal(got[p], want[p]) {
			t.Errorf("partition %d differs: %d bytes, want %d", p, len(got[p]), len(want[p]))
		}
	}
	var lines []string
	for _, part := range want {
		lines = append(lines, strings.Split(strings.TrimSuffix(string(part), "\n"), "\n")...)
	}
	slices.Sort(lines)
	var independent []string
	for _, host := range slices.Sorted(maps.Keys(totals)) {
		independent = append(independent, fmt.Sprintf("%s %d", host, totals[host]))
	}
	if !slices.Equal(lines, independent) {
		t.Errorf("sum: %d lines, want %d totals", len(lines), len(independent))
	}
}

// TestSumBadLines: a line that is not `key integer` fails the job,
// naming the record's input and byte offset and what is wrong with it.
func TestSumBadLines(t *testing.T) {
	for _, tt := range []struct{ line, want string }{
		{"host1", "got 1 fields"},
		{"host1 12 34", "got 3 fields"},
		{"host1 12kB", `"12kB" is not an integer`},
		{"host1 1.5", `"1.5" is not an integer`},
		{"host1 99999999999999999999", `"99999999999999999999" is out of the range of int64`},
	} {
		in := mr.NamedInput{Name: "in.txt", Data: []byte("host0 10\n\n" + tt.line + "\nhost2 3\n")}
		_, err := mr.Sequential(context.Background(), newApp(t, "sum"), []mr.NamedInput{in}, 1)
		var rerr *mr.RecordError
		if !errors.As(err, &rerr) || !strings.Contains(err.Error(), "record at in.txt byte 10") || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("sum of %q: %v, want a record error at in.txt byte 10 saying %s", tt.line, err, tt.want)
		}
		recs := mr.ReadSplit(bytes.NewReader(in.Data), int64(len(in.Data)), mr.Split{End: int64(len(in.Data))}, in.Name)
		if _, _, err := mr.RunMap(context.Background(), newApp(t, "sum"), recs, 1, nil); err == nil || err.Error() != rerr.Error() {
			t.Errorf("map of %q: %v, want %v", tt.line, err, rerr)
		}
	}
}

// TestSumOverflow: a total past int64 is an error, in either direction,
// and only the total counts: values whose running sum leaves int64 on the
// way add up all the same, in any order and over any splits.
func TestSumOverflow(t *testing.T) {
	const maxInt, minInt = math.MaxInt64, math.MinInt64
	for _, tt := range []struct {
		values []int64
		want   string // the output, or "" for ErrOverflow
	}{
		{[]int64{maxInt, 1}, ""},
		{[]int64{minInt, -1}, ""},
		{[]int64{maxInt, maxInt, minInt, 2}, ""},
		{[]int64{maxInt, 1, -1}, fmt.Sprintf("k %d\n", maxInt)},
		{[]int64{minInt, -1, 1}, fmt.Sprintf("k %d\n", minInt)},
		{[]int64{maxInt, maxInt, minInt, minInt, 5}, "k 3\n"},
	} {
		var inputs []mr.NamedInput
		for i, v := range tt.values {
			inputs = append(inputs, mr.NamedInput{Name: fmt.Sprint(i), Data: fmt.Appendf(nil, "k %d\n", v)})
		}
		out, err := mr.Sequential(context.Background(), newApp(t, "sum"), inputs, 1)
		switch {
		case tt.want == "" && !errors.Is(err, apps.ErrOverflow):
			t.Errorf("sum of %d = %q, %v; want ErrOverflow", tt.values, out, err)
		case tt.want != "" && (err != nil || string(out[0]) != tt.want):
			t.Errorf("sum of %d = %q, %v; want %q", tt.values, out, err, tt.want)
		}
		// In one split, where the map keeps a running total.
		var one []byte
		for _, in := range inputs {
			one = append(one, in.Data...)
		}
		if got, err := mapReduceOne(newApp(t, "sum"), one); got != tt.want || (tt.want == "") != errors.Is(err, apps.ErrOverflow) {
			t.Errorf("sum of %d in one split = %q, %v; want %q", tt.values, got, err, tt.want)
		}
		if tt.want != "" {
			slices.Reverse(inputs)
			if got := distributed(t, newApp(t, "sum"), inputs, 1, 1<<10); string(got[0]) != tt.want {
				t.Errorf("distributed sum of %d in reverse = %q, want %q", tt.values, got[0], tt.want)
			}
		}
	}
}

// mapReduceOne runs app's map over data as one split, and its reduce.
func mapReduceOne(app mr.App, data []byte) (string, error) {
	ctx := context.Background()
	parts, _, err := mr.RunMap(ctx, app, mr.ReadSplit(bytes.NewReader(data), int64(len(data)), mr.Split{End: int64(len(data))}, "one"), 1, nil)
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	_, err = mr.RunReduce(ctx, app, []io.Reader{bytes.NewReader(parts[0])}, &out, nil)
	if err != nil {
		return "", err
	}
	return out.String(), nil
}

func TestSumTakesNoArguments(t *testing.T) {
	var reg mr.Registry
	apps.Register(&reg)
	if _, err := reg.New("sum", []string{"x"}); err == nil {
		t.Error(`New("sum", ["x"]) succeeded`)
	}
}
