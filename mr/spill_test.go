package mr

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/big"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// joiner is echo with a combiner that joins values as Reduce does.
type joiner struct{ echo }

func (joiner) Combine(ctx context.Context, key string, values iter.Seq[string]) (string, error) {
	return echo{}.Reduce(ctx, key, values)
}

// adder sums the integers of "key n" lines exactly, and is an IntegerSum.
type adder struct{ echo }

func (adder) Reduce(_ context.Context, _ string, values iter.Seq[string]) (string, error) {
	var total big.Int
	for v := range values {
		n, ok := new(big.Int).SetString(v, 10)
		if !ok {
			return "", fmt.Errorf("%q is no integer", v)
		}
		total.Add(&total, n)
	}
	return total.String(), nil
}
func (a adder) Combine(ctx context.Context, key string, values iter.Seq[string]) (string, error) {
	return a.Reduce(ctx, key, values)
}
func (adder) SumsIntegers() {}

// spillInput is lines "key value" from a fixed seed: keys repeat, values
// are integers, some near the ends of int64 so that sums overflow.
func spillInput(lines int) []byte {
	rng := rand.New(rand.NewPCG(14, 1))
	var b bytes.Buffer
	for range lines {
		key := fmt.Sprintf("k%d", rng.IntN(800)*rng.IntN(800)%2000)
		v := strconv.Itoa(rng.IntN(1000) - 100)
		if rng.IntN(50) == 0 {
			v = strconv.FormatInt(9_000_000_000_000_000_000+rng.Int64N(1e17), 10)
		}
		fmt.Fprintf(&b, "%s %s\n", key, v)
	}
	return b.Bytes()
}

// mapAndReduce maps data in splits of splitSize with cfg, checks that the
// spill directory is left empty, and returns the map outputs, each
// partition's reduce output and how many runs the maps spilled.
func mapAndReduce(t *testing.T, app App, data []byte, splitSize int64, r int, cfg MapConfig) (maps [][][]byte, out [][]byte, spills int) {
	t.Helper()
	ctx := context.Background()
	for _, s := range Splits(int64(len(data)), splitSize) {
		o, c, err := RunMapTo(ctx, app, ReadSplit(bytes.NewReader(data), int64(len(data)), s, "in"), r, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		spills += o.Spills()
		if c.MapSpilledRecords == 0 != (o.Spills() == 0) {
			t.Errorf("a map of %d spills counted %d spilled records", o.Spills(), c.MapSpilledRecords)
		}
		parts := make([][]byte, r)
		for p := range r {
			if parts[p], err = io.ReadAll(o.Partition(p)); err != nil {
				t.Fatal(err)
			}
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		maps = append(maps, parts)
	}
	if cfg.SpillDir != "" {
		assertEmptyDir(t, cfg.SpillDir)
	}
	for p := range r {
		var runs []io.Reader
		for _, parts := range maps {
			runs = append(runs, bytes.NewReader(parts[p]))
		}
		var buf bytes.Buffer
		if _, err := RunReduce(ctx, app, runs, &buf, nil); err != nil {
			t.Fatal(err)
		}
		out = append(out, buf.Bytes())
	}
	return maps, out, spills
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) != 0 {
		t.Fatalf("spill directory holds %v (%v), want nothing", entries, err)
	}
}

// TestMapSpills: a map whose output outgrows its sort buffer spills sorted
// runs, merges them (in passes, past mergeFanIn runs) and removes them,
// and its job's output is byte for byte the one of maps that sort in
// memory, and of the sequential computation; without a combiner the map
// output itself is the same bytes.
func TestMapSpills(t *testing.T) {
	data := spillInput(30_000)
	const r = 3
	for _, tt := range []struct {
		name string
		app  App
	}{{"no combiner", echo{}}, {"combiner", joiner{}}, {"integer sum", adder{}}} {
		t.Run(tt.name, func(t *testing.T) {
			wantMaps, want, spills := mapAndReduce(t, tt.app, data, 1<<20, r, MapConfig{})
			if spills != 0 {
				t.Fatalf("maps with the default sort buffer spilled %d runs, want none", spills)
			}
			seq, err := Sequential(context.Background(), tt.app, []NamedInput{{"in", data}}, r)
			if err != nil {
				t.Fatal(err)
			}
			for p := range r {
				if !bytes.Equal(want[p], seq[p]) {
					t.Fatalf("partition %d differs from the sequential run", p)
				}
			}
			for _, buffer := range []int64{MinSortBuffer, 64 << 10} {
				dir := t.TempDir()
				gotMaps, got, spills := mapAndReduce(t, tt.app, data, 1<<20, r, MapConfig{SortBuffer: buffer, SpillDir: dir})
				if buffer == MinSortBuffer && spills <= mergeFanIn || spills == 0 {
					t.Errorf("sort buffer %d: %d runs spilled, want more (and more than %d at the least)", buffer, spills, mergeFanIn)
				}
				for p := range r {
					if !bytes.Equal(got[p], want[p]) {
						t.Errorf("sort buffer %d: partition %d's output differs from the in-memory maps'", buffer, p)
					}
				}
				if _, ok := tt.app.(Combiner); !ok {
					for i := range gotMaps {
						for p := range r {
							if !bytes.Equal(gotMaps[i][p], wantMaps[i][p]) {
								t.Errorf("sort buffer %d: map %d partition %d differs from the in-memory map's", buffer, i, p)
							}
						}
					}
				}
			}
		})
	}
}

// failAt fails on the record holding its text, after its earlier records
// have spilled.
type failAt struct {
	echo
	text string
}

func (f failAt) Map(ctx context.Context, rec Record, emit Emit) error {
	if rec.Text == f.text {
		return errors.New("bad record")
	}
	return f.echo.Map(ctx, rec, emit)
}

// TestMapSpillsRemovedOnFailure: a map that fails, or whose context ends,
// after it spilled leaves no file behind.
func TestMapSpillsRemovedOnFailure(t *testing.T) {
	data := spillInput(20_000)
	last := string(data[bytes.LastIndexByte(data[:len(data)-1], '\n')+1 : len(data)-1])
	recs := func() iter.Seq2[Record, error] { return lines(string(data)) }

	dir := t.TempDir()
	_, _, err := RunMapTo(context.Background(), failAt{text: last}, recs(), 2, MapConfig{SortBuffer: MinSortBuffer, SpillDir: dir}, nil)
	var re *RecordError
	if !errors.As(err, &re) {
		t.Fatalf("map failing on its last record = %v, want a RecordError", err)
	}
	assertEmptyDir(t, dir)

	ctx, cancel := context.WithCancel(context.Background())
	seen := 0
	cancelling := func(yield func(Record, error) bool) {
		for rec, err := range recs() {
			if seen++; seen == 15_000 {
				cancel()
			}
			if !yield(rec, err) {
				return
			}
		}
	}
	_, _, err = RunMapTo(ctx, echo{}, cancelling, 2, MapConfig{SortBuffer: MinSortBuffer, SpillDir: dir}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("map cancelled midway = %v, want context.Canceled", err)
	}
	assertEmptyDir(t, dir)

	// A spill that cannot be written fails the task, not the record.
	gone := filepath.Join(t.TempDir(), "gone")
	_, _, err = RunMapTo(context.Background(), echo{}, recs(), 2, MapConfig{SortBuffer: MinSortBuffer, SpillDir: gone}, nil)
	if err == nil || errors.As(err, &re) {
		t.Fatalf("map spilling into a missing directory = %v, want an error of the task", err)
	}
}

// TestReduceFilesMergesInPasses: a reduce of more runs than one merge
// reads at once merges them in passes to the same output as one merge of
// them all, removes what the passes wrote, and names a corrupt run by its
// index among all.
func TestReduceFilesMergesInPasses(t *testing.T) {
	ctx := context.Background()
	data := spillInput(20_000)
	runsDir := t.TempDir()
	var paths []string
	var readers []io.Reader
	for i, s := range Splits(int64(len(data)), int64(len(data))/(3*mergeFanIn)) {
		parts, _, err := RunMap(ctx, echo{}, ReadSplit(bytes.NewReader(data), int64(len(data)), s, "in"), 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(runsDir, strconv.Itoa(i))
		if err := os.WriteFile(path, parts[0], 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
		readers = append(readers, bytes.NewReader(parts[0]))
	}
	if len(paths) <= 2*mergeFanIn {
		t.Fatalf("%d runs, want more than %d", len(paths), 2*mergeFanIn)
	}
	var want, got bytes.Buffer
	wantC, err := RunReduce(ctx, echo{}, readers, &want, nil)
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	gotC, err := RunReduceFiles(ctx, echo{}, paths, tmp, &got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) || gotC != wantC {
		t.Fatalf("RunReduceFiles = %d bytes, %v; want RunReduce's %d bytes, %v", got.Len(), gotC, want.Len(), wantC)
	}
	assertEmptyDir(t, tmp)

	bad := 100
	st, _ := os.Stat(paths[bad])
	if err := os.Truncate(paths[bad], st.Size()-1); err != nil {
		t.Fatal(err)
	}
	_, err = RunReduceFiles(ctx, echo{}, paths, tmp, io.Discard, nil)
	var re *RunError
	if !errors.As(err, &re) || re.Run != bad || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("RunReduceFiles with run %d cut short = %v, want a RunError of run %d", bad, err, bad)
	}
	assertEmptyDir(t, tmp)
}

// TestMapPartitionOutOfRange: an app whose partitioner goes out of range
// fails its map instead of its worker.
func TestMapPartitionOutOfRange(t *testing.T) {
	_, _, err := RunMap(context.Background(), badPartition{}, lines("a 1\n"), 2, nil)
	if err == nil || !strings.Contains(err.Error(), "partition 7 of 2") {
		t.Fatalf("map with a partition out of range = %v, want an error naming it", err)
	}
}

type badPartition struct{ echo }

func (badPartition) Partition(string, int) int { return 7 }

// TestMapMemoryBounded: a map whose output is many times its sort buffer
// keeps its heap near the buffer, not near its output.
func TestMapMemoryBounded(t *testing.T) {
	const records, buffer = 400_000, 1 << 20 // 100-byte lines: about 40 MiB of output
	rng := rand.New(rand.NewPCG(3, 4))
	recs := func(yield func(Record, error) bool) {
		line := make([]byte, 99)
		for i := range records {
			for j := range line {
				line[j] = 'a' + byte(rng.IntN(26))
			}
			line[10] = ' '
			if !yield(Record{Input: "gen", Offset: int64(i) * 100, Text: string(line), Size: 100}, nil) {
				return
			}
		}
	}
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var m runtime.MemStats
			runtime.ReadMemStats(&m)
			if m.HeapInuse > peak.Load() {
				peak.Store(m.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	out, c, err := RunMapTo(context.Background(), echo{}, recs, 4, MapConfig{SortBuffer: buffer, SpillDir: t.TempDir()}, nil)
	close(stop)
	<-sampled
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if c.MapOutputBytes < 30*buffer || out.Spills() < 30 {
		t.Fatalf("map output %d bytes in %d spills, want many times the %d-byte buffer", c.MapOutputBytes, out.Spills(), buffer)
	}
	// The buffer, its growth, 64 merge buffers, and the garbage
	// collector's slack.
	grew := int64(peak.Load()) - int64(base.HeapInuse)
	t.Logf("heap grew by %.1f MiB for %d MiB of output", float64(grew)/(1<<20), c.MapOutputBytes>>20)
	if grew > 24<<20 {
		t.Errorf("the heap grew by %d MiB during a map of %d MiB of output with a %d MiB buffer; want at most 24 MiB", grew>>20, c.MapOutputBytes>>20, buffer>>20)
	}
}

func TestPassGroups(t *testing.T) {
	for _, tt := range []struct {
		n, fanIn int
		want     []int
	}{
		{10, 64, nil},
		{64, 64, nil},
		{65, 64, []int{2}},
		{128, 64, []int{64, 2}},
		{200, 10, []int{10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10, 10}},
		{5, 2, []int{2, 2}},
	} {
		got := passGroups(tt.n, tt.fanIn)
		if !slices.Equal(got, tt.want) {
			t.Errorf("passGroups(%d, %d) = %v, want %v", tt.n, tt.fanIn, got, tt.want)
		}
	}
	// Passes always end at fanIn runs or fewer, each merging at least two.
	for n := 1; n < 3000; n += 7 {
		for _, fanIn := range []int{2, 3, 10, 64} {
			left, passes := n, 0
			for left > fanIn {
				groups := passGroups(left, fanIn)
				if len(groups) == 0 {
					t.Fatalf("passGroups(%d, %d) merges nothing", left, fanIn)
				}
				sum := 0
				for _, k := range groups {
					if k < 2 || k > fanIn {
						t.Fatalf("passGroups(%d, %d) = %v: a group out of 2 to %d", left, fanIn, groups, fanIn)
					}
					sum += k
				}
				left = left - sum + len(groups)
				if passes++; passes > 40 {
					t.Fatalf("%d runs with fan-in %d: no end of passes", n, fanIn)
				}
			}
		}
	}
}
