package worker

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestScratchSweep: a worker that starts removes the scratch directories
// whose lock nobody holds (workers killed), and leaves those of live
// workers, others' files and directories just being made.
func TestScratchSweep(t *testing.T) {
	parent := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	live, err := openScratch(parent, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer live.close()
	os.WriteFile(filepath.Join(live.dir, "spill-1"), []byte("x"), 0o600)

	// A dead worker's: its lock file is there, and nobody holds it.
	dead := filepath.Join(parent, scratchPrefix+"dead")
	os.Mkdir(dead, 0o700)
	os.WriteFile(filepath.Join(dead, scratchLock), nil, 0o600)
	os.MkdirAll(filepath.Join(dead, "reduce-1"), 0o700)
	os.WriteFile(filepath.Join(dead, "reduce-1", "run-0"), []byte("x"), 0o600)
	// One just made, its lock not yet there; one made long ago that
	// never got a lock.
	young := filepath.Join(parent, scratchPrefix+"young")
	os.Mkdir(young, 0o700)
	old := filepath.Join(parent, scratchPrefix+"old")
	os.Mkdir(old, 0o700)
	os.Chtimes(old, time.Now(), time.Now().Add(-2*scratchGrace))
	// Not ours to touch: open to others, a file, a link.
	shared := filepath.Join(parent, scratchPrefix+"shared")
	os.Mkdir(shared, 0o755)
	os.WriteFile(filepath.Join(shared, scratchLock), nil, 0o600)
	file := filepath.Join(parent, scratchPrefix+"file")
	os.WriteFile(file, nil, 0o600)
	link := filepath.Join(parent, scratchPrefix+"link")
	os.Symlink(dead, link)

	next, err := openScratch(parent, quiet)
	if err != nil {
		t.Fatal(err)
	}
	defer next.close()
	for _, tt := range []struct {
		path string
		kept bool
	}{
		{live.dir, true}, {filepath.Join(live.dir, "spill-1"), true}, {next.dir, true},
		{dead, false}, {young, true}, {old, false}, {shared, true}, {file, true}, {link, true},
	} {
		_, err := os.Lstat(tt.path)
		if kept := err == nil; kept != tt.kept {
			t.Errorf("%s kept = %v, want %v", filepath.Base(tt.path), kept, tt.kept)
		}
	}
	live.close()
	if _, err := os.Stat(live.dir); !os.IsNotExist(err) {
		t.Errorf("scratch directory after close: %v, want it removed", err)
	}
}
