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
	// A worker's without its lock: killed as it renamed it.
	unlocked := filepath.Join(parent, scratchPrefix+"unlocked")
	os.Mkdir(unlocked, 0o700)
	// One a worker is making, its lock not yet taken; one a worker killed
	// as it started made long ago.
	young := filepath.Join(parent, startingPrefix+"young")
	os.Mkdir(young, 0o700)
	os.WriteFile(filepath.Join(young, scratchLock), nil, 0o600)
	old := filepath.Join(parent, startingPrefix+"old")
	os.Mkdir(old, 0o700)
	os.WriteFile(filepath.Join(old, scratchLock), nil, 0o600)
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
		{dead, false}, {unlocked, false}, {young, true}, {old, false}, {shared, true}, {file, true}, {link, true},
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

// TestScratchSweepRace: workers that start together on one directory
// never sweep each other's scratch directories away.
func TestScratchSweepRace(t *testing.T) {
	parent := t.TempDir()
	quiet := slog.New(slog.DiscardHandler)
	for range 50 {
		scratches := make(chan *scratch, 4)
		for range cap(scratches) {
			go func() {
				s, err := openScratch(parent, quiet)
				if err != nil {
					t.Error(err)
				}
				scratches <- s
			}()
		}
		var all []*scratch
		for range cap(scratches) {
			if s := <-scratches; s != nil {
				all = append(all, s)
			}
		}
		for _, s := range all {
			if _, err := os.Stat(filepath.Join(s.dir, scratchLock)); err != nil {
				t.Fatalf("a worker's scratch directory was swept while it lived: %v", err)
			}
		}
		for _, s := range all {
			s.close()
		}
	}
}
