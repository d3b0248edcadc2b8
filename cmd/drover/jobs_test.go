package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/local"
	"github.com/drover-dev/drover/mr"
)

// drover runs the CLI and returns its exit code and output.
func drover(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	code := exitCode(run(ctx, args, &stdout, &stderr), &stderr)
	return code, stdout.String(), stderr.String()
}

func TestSubmitStatusJobsGet(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := local.Start(ctx, local.Config{Workers: 2, Apps: builtinApps()})
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Close()
	url := cluster.Broker.ClientURL()
	files, _ := filepath.Glob("../../examples/data/*.txt")

	code, out, errOut := drover(t, append([]string{"submit", "--nats", url, "--app", "indexer", "-r", "2", "--split-size", "65536", "--wait"}, files...)...)
	if code != 0 {
		t.Fatalf("submit exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)

	code, out, errOut = drover(t, "status", id, "--nats", url)
	if code != 0 || !strings.Contains(out, "done") || !regexp.MustCompile(`reduces\s+2/2`).MatchString(out) {
		t.Errorf("status exit %d:\n%s%s", code, out, errOut)
	}
	code, out, _ = drover(t, "jobs", "--nats", url)
	if code != 0 || !strings.Contains(out, id) {
		t.Errorf("jobs exit %d:\n%s", code, out)
	}
	dir := t.TempDir()
	if code, _, errOut = drover(t, "get", id, "-o", dir, "--nats", url); code != 0 {
		t.Fatalf("get exit %d: %s", code, errOut)
	}
	var inputs []mr.NamedInput
	for _, f := range files {
		data, _ := os.ReadFile(f)
		inputs = append(inputs, mr.NamedInput{Name: filepath.Base(f), Data: data})
	}
	app, _ := builtinApps().New("indexer", nil)
	want, _ := mr.Sequential(ctx, app, inputs, 2)
	for r := range want {
		got, err := os.ReadFile(filepath.Join(dir, mr.OutputFile(r)))
		if err != nil || !bytes.Equal(got, want[r]) {
			t.Errorf("%s: %d bytes, want %d identical to the sequential index", mr.OutputFile(r), len(got), len(want[r]))
		}
	}

	for _, args := range [][]string{{"status", "nope"}, {"get", "nope", "-o", dir}, {"cancel", "nope"}} {
		code, _, errOut := drover(t, append(args, "--nats", url)...)
		if code != 1 || !strings.Contains(errOut, "no job nope") {
			t.Errorf("drover %v: exit %d, %q; want 1 and 'no job nope'", args, code, errOut)
		}
	}
}
