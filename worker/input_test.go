package worker

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/mr/mrtest"
)

// TestOpenSharedReadsOnlyUnderRoots: a path input is read only if it is a
// regular file of its declared size under a shared root, as named and
// with symlinks resolved; anything else fails at once, saying why.
func TestOpenSharedReadsOnlyUnderRoots(t *testing.T) {
	tmp, _ := filepath.EvalSymlinks(t.TempDir())
	root, outside := filepath.Join(tmp, "root"), filepath.Join(tmp, "outside")
	for _, dir := range []string{root, outside, filepath.Join(root, "dir")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path, text string) {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	link := func(target, name string) {
		if err := os.Symlink(target, name); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(root, "in.txt"), "some text\n")
	write(filepath.Join(outside, "secret.txt"), "a secret\n")
	link(filepath.Join(outside, "secret.txt"), filepath.Join(root, "out-link"))
	link("in.txt", filepath.Join(root, "in-link"))
	link("../outside", filepath.Join(root, "out-dir"))
	link(root, filepath.Join(tmp, "root-link")) // a root named through a symlink
	if err := syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644); err != nil {
		t.Fatal(err)
	}

	roots := []string{filepath.Join(tmp, "root-link")}
	tests := []struct {
		name  string
		roots []string
		path  string
		size  int64
		want  string // "" to read it
	}{
		{"under the root", roots, filepath.Join(root, "in.txt"), 10, ""},
		{"named through the root's symlink", roots, filepath.Join(tmp, "root-link", "in.txt"), 10, ""},
		{"a symlink inside", roots, filepath.Join(root, "in-link"), 10, ""},
		{"no roots", nil, filepath.Join(root, "in.txt"), 10, "is outside the worker's --shared-root directories"},
		{"outside", roots, filepath.Join(outside, "secret.txt"), 9, "is outside the worker's --shared-root directories"},
		{"system file", roots, "/etc/passwd", 0, "input /etc/passwd is outside the worker's --shared-root directories"},
		{"a symlink out", roots, filepath.Join(root, "out-link"), 9, "is outside the worker's --shared-root directories"},
		{"through a symlinked directory out", roots, filepath.Join(root, "out-dir", "secret.txt"), 9, "is outside the worker's --shared-root directories"},
		{"dot-dot", roots, root + "/../outside/secret.txt", 9, "is not an absolute, clean path"},
		{"relative", roots, "in.txt", 10, "is not an absolute, clean path"},
		{"a FIFO", roots, filepath.Join(root, "fifo"), 0, "is not a regular file"},
		{"a directory", roots, filepath.Join(root, "dir"), 0, "is not a regular file"},
		{"a device", []string{"/dev"}, "/dev/null", 0, "is not a regular file"},
		{"missing", roots, filepath.Join(root, "nope.txt"), 0, "cannot be read: no such file or directory"},
		{"larger than declared", roots, filepath.Join(root, "in.txt"), 5, "is 10 bytes, and its job says 5"},
		{"smaller than declared", roots, filepath.Join(root, "in.txt"), 1 << 30, "is 10 bytes, and its job says 1073741824"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, err := New(nil, Config{Apps: mrtest.Registry(), SharedRoots: tt.roots})
			if err != nil {
				t.Fatal(err)
			}
			in := mr.Input{Name: filepath.Base(tt.path), Path: tt.path, Size: tt.size}
			f, size, err := w.openShared(&in)
			if f != nil {
				f.Close()
			}
			switch {
			case tt.want == "" && (err != nil || size != tt.size):
				t.Errorf("openShared(%s) = %d bytes, %v; want %d bytes", tt.path, size, err, tt.size)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("openShared(%s) = %v, want an error saying %q", tt.path, err, tt.want)
			case tt.want != "" && !errors.As(err, new(*InputError)):
				t.Errorf("openShared(%s) = %T, want an *InputError", tt.path, err)
			}
		})
	}
}
