package worker

import (
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/drover-dev/drover/mr"
)

// A path input is opened the quick way where it can be: beneath the
// shared root it is named under, through a handle on that root the worker
// keeps open, in one system call that the kernel confines to the root
// (openRegularBeneath). That takes about seven system calls, the file's
// close included, where resolving the path's symlinks and opening the
// root anew takes about eighteen, and it matters when tasks are short.
// Anything the quick way cannot open (a symlink out of the root, or an
// absolute one, a missing file, one not regular or not of its declared
// size, a kernel without the call) is opened the careful way,
// openShared's, which decides as it always did: the quick way only ever
// succeeds with a regular file of the declared size inside a root.

// heldRoots are the worker's open handles on its shared roots, by the
// roots' order, opened when first used. Each is checked before use to
// still be the directory at the root's resolved path (the same device and
// inode), so that a root replaced or mounted over after the worker opened
// it is opened again rather than read stale. Safe for concurrent use.
type heldRoots struct {
	mu     sync.Mutex
	dirs   []*heldDir  // by root; nil until opened
	failed atomic.Bool // the kernel cannot open beneath a directory
}

// heldDir is an open shared root and its identity when opened.
type heldDir struct {
	f        *os.File
	dev, ino uint64
}

// dir returns the open handle on root i, at path, opening it (again) if
// it is not open or is no longer the directory there; nil if it cannot.
func (h *heldRoots) dir(i int, path string) *os.File {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.dirs == nil {
		h.dirs = make([]*heldDir, i+1)
	}
	for len(h.dirs) <= i {
		h.dirs = append(h.dirs, nil)
	}
	if d := h.dirs[i]; d != nil {
		if d.dev == uint64(st.Dev) && d.ino == uint64(st.Ino) {
			return d.f
		}
		d.f.Close() // a use that holds it keeps its descriptor to the end
		h.dirs[i] = nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	fi, err := f.Stat()
	fst, _ := fi.Sys().(*syscall.Stat_t)
	if err != nil || !fi.IsDir() || fst == nil {
		f.Close()
		return nil
	}
	h.dirs[i] = &heldDir{f: f, dev: uint64(fst.Dev), ino: uint64(fst.Ino)}
	return f
}

// close closes the handles; a later use opens them again.
func (h *heldRoots) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.dirs {
		if d != nil {
			d.f.Close()
		}
	}
	h.dirs = nil
}

// openQuick opens in beneath the shared root its path is named under,
// if it is a regular file there of its declared size; ok is false if it
// is not, or it cannot tell, and the careful way must decide.
func (w *Worker) openQuick(in *mr.Input) (f *os.File, size int64, ok bool) {
	if w.held.failed.Load() {
		return nil, 0, false
	}
	for i, r := range w.roots {
		rel, named := within(r.given, in.Path)
		if !named {
			rel, named = within(r.resolved, in.Path)
		}
		if !named {
			continue
		}
		if rel == "." {
			return nil, 0, false
		}
		dir := w.held.dir(i, r.resolved)
		if dir == nil {
			return nil, 0, false
		}
		f, err := openRegularBeneath(dir, rel)
		if err != nil {
			if unsupported(err) {
				w.held.failed.Store(true)
			}
			return nil, 0, false
		}
		st, err := f.Stat()
		if err != nil || !st.Mode().IsRegular() || st.Size() != in.Size {
			f.Close()
			return nil, 0, false
		}
		return f, st.Size(), true
	}
	return nil, 0, false
}
