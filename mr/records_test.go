package mr

import (
	"strings"
	"testing"
)

// TestSplitsCoverEveryLineOnce: however an input is cut, its splits yield
// every line exactly once, in order.
func TestSplitsCoverEveryLineOnce(t *testing.T) {
	inputs := []string{
		"",
		"one line without newline",
		"a\nbb\nccc\n",
		"a\r\nbb\r\n\r\nlast",
		"\n\n\nx\n",
		strings.Repeat("word word\n", 100) + "tail",
	}
	for _, in := range inputs {
		want := linesOf(in)
		for splitSize := int64(1); splitSize <= int64(len(in))+1; splitSize++ {
			var got []string
			var offsets []int64
			for _, s := range Splits(int64(len(in)), splitSize) {
				for rec, err := range ReadSplit(strings.NewReader(in), int64(len(in)), s, "in") {
					if err != nil {
						t.Fatal(err)
					}
					got = append(got, rec.Text)
					offsets = append(offsets, rec.Offset)
				}
			}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Fatalf("input %q split every %d: lines %q, want %q", in, splitSize, got, want)
			}
			for i, off := range offsets {
				if !strings.HasPrefix(in[off:], strings.TrimSuffix(got[i], "\r")) {
					t.Fatalf("input %q: line %d at offset %d does not start there", in, i, off)
				}
			}
		}
	}
}

func linesOf(s string) []string {
	var lines []string
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, strings.TrimSuffix(s[:i], "\r"))
		s = s[i+1:]
	}
	return lines
}
