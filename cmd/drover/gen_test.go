package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/mr"
)

// TestGenAndSort: drover gen writes the same records for the same seed,
// and drover run --app sort, with cut points sampled from its two input
// files, writes R files that concatenated are the lines of both sorted
// by their bytes, as LC_ALL=C sort does.
func TestGenAndSort(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := t.TempDir()
	drover := func(args ...string) string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		if code := exitCode(run(ctx, args, &stdout, &stderr), &stderr); code != 0 {
			t.Fatalf("drover %q: exit %d: %s", args, code, stderr.String())
		}
		return stdout.String()
	}
	a, b, again := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "again")
	drover("gen", "--size", "600KiB", "--seed", "5", "-o", a)
	drover("gen", "--size", "300KiB", "--seed", "6", "-o", b)
	drover("gen", "--size", "600KiB", "--seed", "5", "-o", again)
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	dagain, _ := os.ReadFile(again)
	if len(da) != 600<<10/100*100 || !bytes.Equal(da, dagain) || bytes.Equal(da[:1000], db[:1000]) {
		t.Fatalf("gen: %d bytes, the same seed the same file %v; want %d bytes and one file per seed", len(da), bytes.Equal(da, dagain), 600<<10/100*100)
	}
	if _, err := os.Stat(a + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("gen left %s.tmp behind", a)
	}

	out := filepath.Join(dir, "out")
	drover("run", "--app", "sort", "-r", "3", "--split-size", "65536", "-o", out, a, b)
	var got []byte
	for r := range 3 {
		part, err := os.ReadFile(filepath.Join(out, mr.OutputFile(r)))
		if err != nil || len(part) == 0 {
			t.Fatalf("%s: %d bytes, %v; want a share of the sorted lines", mr.OutputFile(r), len(part), err)
		}
		got = append(got, part...)
	}
	lines := strings.SplitAfter(string(da)+string(db), "\n")
	lines = lines[:len(lines)-1]
	slices.Sort(lines)
	if want := strings.Join(lines, ""); string(got) != want {
		t.Errorf("sorted output: %d bytes, want %d identical to the inputs' lines sorted", len(got), len(want))
	}
}

func TestGenBadFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"gen", "-o", out}, "--size 0: want 100 bytes to"},
		{[]string{"gen", "--size", "2000GiB", "-o", out}, "--size 2000GiB: want 100 bytes to 1024GiB"},
		{[]string{"gen", "--size", "1MiB"}, "-o FILE is required"},
		{[]string{"gen", "--size", "1MiB", "-o", out, "extra"}, `unexpected argument "extra"`},
		{[]string{"gen", "--size", "1MiB", "-o", filepath.Join(out, "no", "dir")}, "no such file or directory"},
	} {
		var stdout, stderr bytes.Buffer
		code := exitCode(run(context.Background(), tt.args, &stdout, &stderr), &stderr)
		if code == 0 || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("drover %q: exit %d, stderr %q; want an error saying %q", tt.args, code, stderr.String(), tt.want)
		}
	}
}
