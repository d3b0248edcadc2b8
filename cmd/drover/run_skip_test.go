package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRunListsSkippedRecords: drover run with --skip-bad-records ends by
// naming every bad record it skipped, as drover status does.
func TestRunListsSkippedRecords(t *testing.T) {
	file := filepath.Join(t.TempDir(), "logs.txt")
	os.WriteFile(file, []byte("host1 10\nnot a record\nhost1 5\nhost2 x\nhost2 1\n"), 0o644)
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	args := []string{"run", "--app", "sum", "--skip-bad-records", "-o", t.TempDir(), "-r", "1", file}
	if code := exitCode(run(ctx, args, &stdout, &stderr), &stderr); code != 0 {
		t.Fatalf("drover run exit %d: %s", code, stderr.String())
	}
	for _, want := range []string{
		"map skipped records 2",
		"note: map 0 skipped the bad record at logs.txt byte 9\n",
		"note: map 0 skipped the bad record at logs.txt byte 30\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("stdout %q lacks %q", stdout.String(), want)
		}
	}
}
