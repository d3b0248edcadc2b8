package apps_test

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/mr"
)

// sortInput is generated records with lines of other shapes among them:
// duplicates, an empty line, a CRLF line, bytes above ASCII, and a last
// line without its newline.
func sortInput(t *testing.T, size int64, seed uint64) []byte {
	t.Helper()
	var b bytes.Buffer
	if _, err := apps.GenerateRecords(&b, size, seed); err != nil {
		t.Fatal(err)
	}
	data := b.Bytes()
	var extra bytes.Buffer
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		extra.Write(line)
		switch i % 997 {
		case 1:
			extra.Write(line) // a duplicate
		case 2:
			extra.WriteString("\n")
		case 3:
			extra.WriteString("crlf line\r\n")
		case 4:
			extra.WriteString("\xff\xfe high bytes é\n")
		}
	}
	extra.WriteString("~~ the last line, without a newline")
	return extra.Bytes()
}

// cSort is `LC_ALL=C sort` of data: its lines, "\r" kept, sorted by
// their bytes, each ending in "\n".
func cSort(data []byte) []byte {
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	slices.Sort(lines)
	return []byte(strings.Join(lines, "\n") + "\n")
}

// TestSortTotalOrder: the sort app's R outputs, from maps over splits
// that spill and a range partitioner sampled from the input, concatenated
// in order, are byte for byte the input sorted, and each holds a fair
// share of it.
func TestSortTotalOrder(t *testing.T) {
	ctx := context.Background()
	data := sortInput(t, 2<<20, 1)
	const r = 5
	cuts, err := apps.SampleCuts([]apps.SampleInput{{R: bytes.NewReader(data[:len(data)/3]), Size: int64(len(data) / 3)},
		{R: bytes.NewReader(data[len(data)/3:]), Size: int64(len(data) - len(data)/3)}}, r)
	if err != nil || len(cuts) != r-1 {
		t.Fatalf("SampleCuts = %d cuts, %v; want %d", len(cuts), err, r-1)
	}
	app := newApp(t, "sort", apps.SortArgs(cuts)...)
	runs := make([][]io.Reader, r)
	dir := t.TempDir()
	for _, s := range mr.Splits(int64(len(data)), 256<<10) {
		out, _, err := mr.RunMapTo(ctx, app, mr.ReadSplit(bytes.NewReader(data), int64(len(data)), s, "in"), r,
			mr.MapConfig{SortBuffer: 64 << 10, SpillDir: dir}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if s.End-s.Start == 256<<10 && out.Spills() == 0 {
			t.Errorf("a map of %d bytes with a 64 KiB sort buffer did not spill", s.End-s.Start)
		}
		for p := range r {
			b, _ := io.ReadAll(out.Partition(p))
			runs[p] = append(runs[p], bytes.NewReader(b))
		}
		out.Close()
	}
	var got bytes.Buffer
	for p := range r {
		before := got.Len()
		if _, err := mr.RunReduce(ctx, app, runs[p], &got, nil); err != nil {
			t.Fatal(err)
		}
		if share := float64(got.Len()-before) / float64(len(data)); share < 0.5/r || share > 2.0/r {
			t.Errorf("partition %d holds %.1f%% of the input, want about %.0f%%", p, 100*share, 100.0/r)
		}
	}
	want := cSort(data)
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("sorted output: %d bytes, want %d identical to the input sorted", got.Len(), len(want))
	}
}

func TestGenerateRecords(t *testing.T) {
	var a, b, c bytes.Buffer
	n, err := apps.GenerateRecords(&a, 1050, 7)
	if err != nil || n != 10 || a.Len() != 1000 {
		t.Fatalf("GenerateRecords(1050 bytes) = %d records of %d bytes, %v; want 10 of 1000", n, a.Len(), err)
	}
	apps.GenerateRecords(&b, 1050, 7)
	apps.GenerateRecords(&c, 1050, 8)
	if !bytes.Equal(a.Bytes(), b.Bytes()) || bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Errorf("the same seed must give the same records, and another seed others")
	}
	for i, line := range strings.SplitAfter(a.String(), "\n")[:10] {
		if len(line) != apps.RecordSize || line[10:12] != "  " || line[44:46] != "  " || !strings.HasSuffix(line, "\n") ||
			strings.ContainsAny(line[:10], " \n") || line[12:44] != strings.Repeat("0", 31)+string("0123456789"[i]) {
			t.Errorf("record %d = %q, want a 10-byte key, its number in 32 hex digits and filler in 100 bytes", i, line)
		}
	}
}

func TestSortArgs(t *testing.T) {
	cuts := []string{"", "a", "a,b", "b\x00\xff", strings.Repeat("z", 30)}
	app := newApp(t, "sort", apps.SortArgs(cuts)...)
	for i, key := range []string{"", "a", "a,a", "a,b", "b", "\xff"} {
		if got, want := app.(mr.Partitioner).Partition(key, 6), []int{1, 2, 2, 3, 3, 5}[i]; got != want {
			t.Errorf("Partition(%q, 6) = %d, want %d", key, got, want)
		}
	}
	if got := app.(mr.Partitioner).Partition("\xff", 2); got != 1 {
		t.Errorf("Partition past the last of 2 partitions = %d, want 1", got)
	}
	var reg mr.Registry
	apps.Register(&reg)
	for _, bad := range [][]string{{"zz"}, {"62,61"}, {"6"}, {"61,,62"}} {
		if _, err := reg.New("sort", bad); err == nil {
			t.Errorf("sort with arguments %q made, want an error", bad)
		}
	}
	// Cut points for the most partitions still fit a job's arguments.
	data := sortInput(t, 1<<20, 2)
	many, err := apps.SampleCuts([]apps.SampleInput{{R: bytes.NewReader(data), Size: int64(len(data))}}, mr.MaxR)
	if err != nil || len(many) != mr.MaxR-1 || !slices.IsSorted(many) {
		t.Fatalf("SampleCuts(r = %d) = %d cuts, sorted %v, %v", mr.MaxR, len(many), slices.IsSorted(many), err)
	}
	spec := mr.JobSpec{App: "sort", Args: apps.SortArgs(many), R: mr.MaxR, Inputs: []mr.Input{{Name: "in", Path: "/in", Size: 1}}}
	if err := spec.Validate(&reg); err != nil {
		t.Fatalf("a sort job of R = %d: %v", mr.MaxR, err)
	}
}
