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

func TestRunWordCount(t *testing.T) {
	files, _ := filepath.Glob("../../examples/data/*.txt")
	if len(files) == 0 {
		t.Fatal("examples/data has no texts")
	}
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := append([]string{"run", "--app", "wordcount", "-o", out, "-r", "2"}, files...)
	if code := exitCode(run(ctx, args, &stdout, &stderr), &stderr); code != 0 {
		t.Fatalf("drover run exit %d: %s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "done in") || !strings.Contains(stdout.String(), "counters:") {
		t.Errorf("stdout %q lacks the summary", stdout.String())
	}
	if !strings.Contains(stderr.String(), "reduce 2/2") {
		t.Errorf("progress %q never shows the reduces done", stderr.String())
	}
	var inputs []mr.NamedInput
	for _, f := range files {
		data, _ := os.ReadFile(f)
		inputs = append(inputs, mr.NamedInput{Name: filepath.Base(f), Data: data})
	}
	app, _ := builtinApps().New("wordcount", nil)
	want, err := mr.Sequential(ctx, app, inputs, 2)
	if err != nil {
		t.Fatal(err)
	}
	for r := range want {
		got, err := os.ReadFile(filepath.Join(out, mr.OutputFile(r)))
		if err != nil || !bytes.Equal(got, want[r]) {
			t.Errorf("%s: %d bytes (%v), want %d identical to the sequential count", mr.OutputFile(r), len(got), err, len(want[r]))
		}
	}
}

func TestRunBadInput(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(file, []byte("x\n"), 0o644)
	tests := []struct {
		args     []string
		wantCode int
		want     string
	}{
		{[]string{"run", "-o", t.TempDir(), file}, 2, "--app is required"},
		{[]string{"run", "--app", "wordcount", file}, 2, "-o DIR is required"},
		{[]string{"run", "--app", "wordcount", "-o", t.TempDir()}, 2, "no input files"},
		{[]string{"run", "--app", "nope", "-o", t.TempDir(), file}, 2, `app "nope" is unknown`},
		{[]string{"run", "--app", "wordcount", "-r", "0", "-o", t.TempDir(), file}, 2, "-r 0: want 1 to 10000"},
		{[]string{"run", "--app", "wordcount", "-r", "1000000000", "-o", t.TempDir(), file}, 2, "-r 1000000000: want 1 to 10000"},
		{[]string{"run", "--app", "wordcount", "--split-size", "0", "-o", t.TempDir(), file}, 2, "--split-size 0: want"},
		{[]string{"run", "--app", "wordcount", "--split-size", "-1", "-o", t.TempDir(), file}, 2, "--split-size -1: want"},
		{[]string{"run", "--app", "wordcount", "--split-size", "1000000000000", "-o", t.TempDir(), file}, 2, "--split-size 1000000000000: want"},
		{[]string{"run", "--app", "wordcount", "--workers", "0", "-o", t.TempDir(), file}, 2, "--workers 0: want 1 to"},
		{[]string{"run", "--app", "wordcount", "-o", t.TempDir(), filepath.Dir(file)}, 1, "is not a regular file"},
		{[]string{"run", "--app", "wordcount", "-o", t.TempDir(), "/dev/null"}, 1, "is not a regular file"},
		{[]string{"run", "--app", "wordcount", "--bogus", "-o", t.TempDir(), file}, 2, "flag provided but not defined: -bogus"},
		{[]string{"run", "--app", "grep", "-o", t.TempDir(), file}, 2, "one argument"},
		{[]string{"run", "--app", "wordcount", "-o", t.TempDir(), file + ".missing"}, 1, "no such file"},
		{[]string{"run", "--app", "wordcount", "--speculation", "maybe", "-o", t.TempDir(), file}, 2, "want on or off"},
		{[]string{"run", "--app", "wordcount", "--speculation", "on", "--speculation-after", "2", "-o", t.TempDir(), file}, 2, "want a fraction"},
		{[]string{"run", "--app", "wordcount", "--speculation-slowdown", "0.5", "-o", t.TempDir(), file}, 2, "want 1 or more"},
		{[]string{"run", "--app", "wordcount", "--timeout", "10ms", "-o", t.TempDir(), file}, 2, "--timeout 10ms: want 1s to 168h0m0s"},
		{[]string{"run", "--app", "wordcount", "--timeout", "1000h", "-o", t.TempDir(), file}, 2, "--timeout 1000h0m0s: want 1s to"},
		{[]string{"run", "--app", "wordcount", "--max-attempts", "0", "-o", t.TempDir(), file}, 2, "--max-attempts 0: want 1 to 100"},
		{[]string{"run", "--app", "wordcount", "--max-attempts", "101", "-o", t.TempDir(), file}, 2, "--max-attempts 101: want 1 to 100"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		code := exitCode(run(context.Background(), tt.args, &stdout, &stderr), &stderr)
		if code != tt.wantCode || !strings.Contains(stderr.String(), tt.want) {
			t.Errorf("drover %q: exit %d, stderr %q; want %d and %q", tt.args, code, stderr.String(), tt.wantCode, tt.want)
		}
		if n := strings.Count(strings.TrimSpace(stderr.String()), "\n"); n != 0 {
			t.Errorf("drover %q: %d lines of error, want one", tt.args, n+1)
		}
	}
}

// TestRunOutputDirectory: drover run writes only into an empty or absent
// directory; --force replaces an earlier job's part files, leaves none of
// them beside the new ones, and never removes a file it did not write.
func TestRunOutputDirectory(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in.txt")
	os.WriteFile(file, []byte("a b c d e f g h\n"), 0o644)
	out := filepath.Join(t.TempDir(), "out")
	drover := func(args ...string) (int, string) {
		var stdout, stderr bytes.Buffer
		code := exitCode(run(context.Background(), append([]string{"run", "--app", "wordcount", "-o", out}, append(args, file)...), &stdout, &stderr), &stderr)
		return code, stderr.String()
	}
	parts := func() []string {
		names, _ := filepath.Glob(filepath.Join(out, "*"))
		for i, n := range names {
			names[i] = filepath.Base(n)
		}
		return names
	}
	if code, errOut := drover("-r", "5"); code != 0 {
		t.Fatalf("first run: exit %d: %s", code, errOut)
	}
	if code, errOut := drover("-r", "2"); code != 1 || !strings.Contains(errOut, "is not empty; --force replaces its part-* files") {
		t.Errorf("run into a full directory: exit %d, %q", code, errOut)
	}
	if got := parts(); len(got) != 5 {
		t.Errorf("a refused run changed the directory: %q", got)
	}
	if code, errOut := drover("-r", "2", "--force"); code != 0 {
		t.Fatalf("run --force: exit %d: %s", code, errOut)
	}
	if got, want := parts(), []string{"part-00000", "part-00001"}; !slices.Equal(got, want) {
		t.Errorf("after run --force -r 2 the directory holds %q, want %q", got, want)
	}
	os.WriteFile(filepath.Join(out, "notes.txt"), []byte("mine"), 0o644)
	if code, errOut := drover("--force"); code != 1 || !strings.Contains(errOut, "holds notes.txt, which is not an output file") {
		t.Errorf("run --force beside a file of the user's: exit %d, %q", code, errOut)
	}
	if data, err := os.ReadFile(filepath.Join(out, "notes.txt")); err != nil || string(data) != "mine" {
		t.Errorf("the user's file after run --force: %q, %v", data, err)
	}
}
