//go:build linux

package worker

import (
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
)

// TestOpenQuickOnlyInsideRoot: the quick way opens a regular file of its
// declared size beneath the root it is named under, and nothing else: a
// symlink out of the root, an absolute one, a FIFO, a device or a file
// of another size is left to the careful way, which fails it.
func TestOpenQuickOnlyInsideRoot(t *testing.T) {
	tmp, _ := filepath.EvalSymlinks(t.TempDir())
	root, outside := filepath.Join(tmp, "root"), filepath.Join(tmp, "outside")
	for _, dir := range []string{filepath.Join(root, "dir"), outside} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for path, text := range map[string]string{
		filepath.Join(root, "in.txt"):        "some text\n",
		filepath.Join(root, "dir", "in.txt"): "some text\n",
		filepath.Join(outside, "secret.txt"): "a secret\n",
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for target, name := range map[string]string{
		"in.txt":                             "in-link",
		"../outside/secret.txt":              "out-link",
		filepath.Join(outside, "secret.txt"): "abs-out-link",
		filepath.Join(root, "in.txt"):        "abs-in-link",
		"../outside":                         "out-dir",
		"dir/../../outside":                  "out-dotdot",
	} {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(root, filepath.Join(tmp, "root-link")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}
	roots := []string{filepath.Join(tmp, "root-link")}
	tests := []struct {
		name  string
		roots []string
		path  string
		size  int64
		quick bool
	}{
		{"under the root", roots, filepath.Join(root, "in.txt"), 10, true},
		{"below a directory", roots, filepath.Join(root, "dir", "in.txt"), 10, true},
		{"named through the root's symlink", roots, filepath.Join(tmp, "root-link", "in.txt"), 10, true},
		{"a symlink inside", roots, filepath.Join(root, "in-link"), 10, true},
		{"an absolute symlink inside", roots, filepath.Join(root, "abs-in-link"), 10, false},
		{"a symlink out", roots, filepath.Join(root, "out-link"), 9, false},
		{"an absolute symlink out", roots, filepath.Join(root, "abs-out-link"), 9, false},
		{"through a symlinked directory out", roots, filepath.Join(root, "out-dir", "secret.txt"), 9, false},
		{"through a symlink with dot-dots out", roots, filepath.Join(root, "out-dotdot", "secret.txt"), 9, false},
		{"outside", roots, filepath.Join(outside, "secret.txt"), 9, false},
		{"the root itself", roots, root, 0, false},
		{"a FIFO", roots, filepath.Join(root, "fifo"), 0, false},
		{"a directory", roots, filepath.Join(root, "dir"), 0, false},
		{"a device", []string{"/dev"}, "/dev/null", 0, false},
		{"missing", roots, filepath.Join(root, "nope.txt"), 0, false},
		{"of another size", roots, filepath.Join(root, "in.txt"), 5, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New(nil, Config{Apps: mrtest.Registry(), SharedRoots: tt.roots})
			if err != nil {
				t.Fatal(err)
			}
			defer w.held.close()
			f, size, ok := w.openQuick(&mr.Input{Path: tt.path, Size: tt.size})
			if f != nil {
				f.Close()
			}
			if ok != tt.quick || (ok && size != tt.size) {
				t.Errorf("openQuick(%s) = %d bytes, %v; want %v", tt.path, size, ok, tt.quick)
			}
		})
	}
}

// TestHeldRootFollowsItsPath: a shared root replaced after the worker
// opened it (renamed away and made anew, as a remount would) is read
// afresh, not through the handle on the old directory; and a symlink out
// made after the root was opened is still not followed.
func TestHeldRootFollowsItsPath(t *testing.T) {
	tmp, _ := filepath.EvalSymlinks(t.TempDir())
	root := filepath.Join(tmp, "root")
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "in.txt"), "old\n")
	w, err := New(nil, Config{Apps: mrtest.Registry(), SharedRoots: []string{root}})
	if err != nil {
		t.Fatal(err)
	}
	defer w.held.close()
	read := func(name string) string {
		t.Helper()
		f, _, err := w.openShared(&mr.Input{Path: filepath.Join(root, name), Size: 4})
		if err != nil {
			return "error: " + err.Error()
		}
		defer f.Close()
		data, _ := io.ReadAll(f)
		return string(data)
	}
	if got := read("in.txt"); got != "old\n" {
		t.Fatalf("read(in.txt) = %q, want %q", got, "old\n")
	}
	if err := os.Rename(root, filepath.Join(tmp, "old-root")); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(root, "in.txt"), "new\n")
	if got := read("in.txt"); got != "new\n" {
		t.Errorf("read(in.txt) after the root was replaced = %q, want %q", got, "new\n")
	}
	write(filepath.Join(tmp, "secret.txt"), "sec\n")
	if err := os.Symlink("../secret.txt", filepath.Join(root, "out-link")); err != nil {
		t.Fatal(err)
	}
	if got, want := read("out-link"), "error: input "+filepath.Join(root, "out-link")+" "+ErrOutsideSharedRoots.Error(); got != want {
		t.Errorf("read(out-link) = %q, want %q", got, want)
	}
}

// TestOpenSharedConcurrently: slots open inputs at once, while the root's
// handle is opened, replaced and closed under them.
func TestOpenSharedConcurrently(t *testing.T) {
	root, _ := filepath.EvalSymlinks(t.TempDir())
	path := filepath.Join(root, "in.txt")
	if err := os.WriteFile(path, []byte("some text\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := New(nil, Config{Apps: mrtest.Registry(), SharedRoots: []string{root}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				f, size, err := w.openShared(&mr.Input{Path: path, Size: 10})
				if err != nil || size != 10 {
					t.Errorf("openShared(%s) = %d bytes, %v; want 10 bytes", path, size, err)
					return
				}
				f.Close()
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			w.held.close()
		}
	})
	wg.Wait()
	w.held.close()
}
