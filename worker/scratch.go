package worker

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// A worker keeps what its tasks put on disk (spilled runs, copies of
// inputs and of map outputs) in a scratch directory of its own under
// Config.TempDir, removed when Run returns. A worker killed with SIGKILL
// cannot remove it, so the next worker to start on the same TempDir
// does: each holds an exclusive flock on the lock file in its directory
// while it lives, which the kernel releases when the process dies, and a
// directory whose lock can be taken belongs to nobody.
const (
	scratchPrefix = "drover-worker-"
	// startingPrefix names a directory until its lock is held: a worker
	// makes it, locks it, then renames it with scratchPrefix, so that no
	// sweep ever finds a worker's directory with its lock not yet taken.
	startingPrefix = "drover-starting-"
	scratchLock    = "lock"
	// scratchGrace is how old a starting directory must be before a
	// sweep takes it for the leftover of a worker killed as it started.
	scratchGrace = time.Minute
)

// scratch is a worker's own directory and the lock it holds on it.
type scratch struct {
	dir  string
	lock *os.File
}

// openScratch sweeps the directories of dead workers from parent and
// makes this worker's own.
func openScratch(parent string, log *slog.Logger) (*scratch, error) {
	sweepScratch(parent, log)
	starting, err := os.MkdirTemp(parent, startingPrefix+"*")
	if err != nil {
		return nil, fmt.Errorf("worker: scratch directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(starting, scratchLock), os.O_CREATE|os.O_RDWR, 0o600)
	if err == nil {
		if err = syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			lock.Close()
		}
	}
	if err != nil {
		os.RemoveAll(starting)
		return nil, fmt.Errorf("worker: lock scratch directory: %w", err)
	}
	dir := filepath.Join(parent, scratchPrefix+strings.TrimPrefix(filepath.Base(starting), startingPrefix))
	if err := os.Rename(starting, dir); err != nil { // the lock goes with it
		lock.Close()
		os.RemoveAll(starting)
		return nil, fmt.Errorf("worker: scratch directory: %w", err)
	}
	return &scratch{dir: dir, lock: lock}, nil
}

// close removes the directory, then lets go of its lock.
func (s *scratch) close() {
	os.RemoveAll(s.dir)
	s.lock.Close()
}

// sweepScratch removes every scratch directory in parent that no live
// worker holds.
func sweepScratch(parent string, log *slog.Logger) {
	for _, prefix := range []string{scratchPrefix, startingPrefix} {
		dirs, _ := filepath.Glob(filepath.Join(parent, prefix+"*"))
		for _, dir := range dirs {
			if !abandoned(dir, prefix == startingPrefix) {
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				log.Warn("worker: the scratch directory of a worker gone is left", "dir", dir, "error", err)
				continue
			}
			log.Info("worker: removed the scratch directory of a worker gone", "dir", dir)
		}
	}
}

// abandoned reports whether dir is a scratch directory of this user that
// no live worker holds: its lock is free, or missing, and a starting one
// is old besides. Others' directories, and anything but a directory, are
// never touched: TempDir may be shared, as /tmp is. What is inside one of
// ours only our workers made, as its mode is 0700.
func abandoned(dir string, starting bool) bool {
	st, err := os.Lstat(dir)
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o700 {
		return false
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); !ok || int(sys.Uid) != os.Getuid() {
		return false
	}
	if starting && time.Since(st.ModTime()) < scratchGrace {
		return false
	}
	lock, err := os.OpenFile(filepath.Join(dir, scratchLock), os.O_RDWR|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return os.IsNotExist(err)
	}
	defer lock.Close() // lets go of the lock taken here, if it was
	return syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) == nil
}
