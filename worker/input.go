package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/drover-dev/drover/mr"
)

// ErrOutsideSharedRoots is the error of a path input that is not a file
// under the worker's shared roots (Config.SharedRoots), symlinks
// resolved: the worker reads no other file for a job.
var ErrOutsideSharedRoots = errors.New("is outside the worker's --shared-root directories")

// InputError is an input a map task cannot read as its job describes it:
// outside the shared roots, not a regular file, or of another size than
// declared. Another attempt fails the same way.
type InputError struct {
	Input string // its path, or its object
	Err   error
}

func (e *InputError) Error() string { return fmt.Sprintf("input %s %v", e.Input, e.Err) }
func (e *InputError) Unwrap() error { return e.Err }

// sharedRoot is a directory path inputs may be read from: as the worker
// was given it, and with its symlinks resolved.
type sharedRoot struct {
	given, resolved string
}

// resolveRoots checks and resolves the shared roots of a Config.
func resolveRoots(dirs []string) ([]sharedRoot, error) {
	var roots []sharedRoot
	for _, dir := range dirs {
		abs, err := filepath.Abs(dir)
		if err == nil {
			var resolved string
			if resolved, err = filepath.EvalSymlinks(abs); err == nil {
				var st os.FileInfo
				if st, err = os.Stat(resolved); err == nil && !st.IsDir() {
					err = errors.New("not a directory")
				}
				roots = append(roots, sharedRoot{given: abs, resolved: resolved})
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%w: SharedRoots: %q: %v", ErrInvalidConfig, dir, err)
		}
	}
	return roots, nil
}

// within returns path relative to dir, if path is dir or below it.
func within(dir, path string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return rel, true
}

// openShared opens a path input, if it is a regular file of its declared
// size under one of the shared roots, both as named and with symlinks
// resolved. The file is opened through the root (os.Root), so that a
// symlink changed in the meantime cannot lead out of it, and without
// blocking, so that a FIFO cannot hold the task. A file the quick way
// opens (openQuick) passes all of this; anything else takes the careful
// way below, which says what is wrong.
func (w *Worker) openShared(in *mr.Input) (*os.File, int64, error) {
	bad := func(err error) (*os.File, int64, error) { return nil, 0, &InputError{Input: in.Path, Err: err} }
	path := in.Path
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return bad(errors.New("is not an absolute, clean path (no '.' or '..' elements)"))
	}
	if f, size, ok := w.openQuick(in); ok {
		return f, size, nil
	}
	// Named under a root, first: nothing is looked up outside them.
	named := false
	for _, r := range w.roots {
		if _, ok := within(r.given, path); ok {
			named = true
		} else if _, ok := within(r.resolved, path); ok {
			named = true
		}
	}
	if !named {
		return bad(ErrOutsideSharedRoots)
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return bad(fmt.Errorf("cannot be read: %w", cause(err)))
	}
	for _, r := range w.roots {
		rel, ok := within(r.resolved, resolved)
		if !ok {
			continue
		}
		root, err := os.OpenRoot(r.resolved)
		if err != nil {
			return bad(fmt.Errorf("cannot be read: %w", err))
		}
		// A device or FIFO is not even opened, if it can be helped.
		st, err := root.Stat(rel)
		if err == nil && !st.Mode().IsRegular() {
			root.Close()
			return bad(fmt.Errorf("is not a regular file (%v)", st.Mode().Type()))
		}
		f, err := root.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
		root.Close()
		if err != nil {
			return bad(fmt.Errorf("cannot be read: %w", cause(err)))
		}
		st, err = f.Stat()
		switch {
		case err != nil:
			err = fmt.Errorf("cannot be read: %w", err)
		case !st.Mode().IsRegular():
			err = fmt.Errorf("is not a regular file (%v)", st.Mode().Type())
		case st.Size() != in.Size:
			err = fmt.Errorf("is %d bytes, and its job says %d: it changed after the job was submitted", st.Size(), in.Size)
		}
		if err != nil {
			f.Close()
			return bad(err)
		}
		return f, st.Size(), nil
	}
	return bad(ErrOutsideSharedRoots)
}

// cause is what went wrong with a path, without the path: the error
// names it once.
func cause(err error) error {
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// open returns an input to read splits of: an object (read whole: the
// client cut large files into objects of a split each) or a file under
// the shared roots. An object is copied to a file in the worker's
// scratch directory, unlinked at once, so that a split takes disk rather than
// memory, and is gone when the task closes it or the process dies.
func (w *Worker) open(ctx context.Context, in *mr.Input) (io.ReaderAt, int64, error) {
	if in.Path != "" {
		return w.openShared(in)
	}
	gctx, stop := w.bus.context(ctx)
	defer stop()
	obj, err := mr.GetObject(gctx, w.store.Inputs, in.Object)
	if err != nil {
		return nil, 0, fmt.Errorf("read input %s: %w", in.Name, err)
	}
	defer obj.Close()
	f, err := os.CreateTemp(w.scratch.dir, "input-*")
	if err != nil {
		return nil, 0, fmt.Errorf("read input %s: %w", in.Name, err)
	}
	os.Remove(f.Name())
	// Read to the end, where the object store checks the bytes against
	// the object's digest, unless it holds more than its job says. Whoever
	// may upload inputs may also put an object under another's name, so
	// the bytes are checked against the digest the job names as well.
	sum := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, sum), io.LimitReader(obj, in.Size+1))
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("read input %s: %w", in.Name, err)
	}
	if n != in.Size {
		f.Close()
		return nil, 0, &InputError{Input: in.Object, Err: fmt.Errorf("is %s bytes, and its job says %d", sizeSeen(n, in.Size), in.Size)}
	}
	if got := hex.EncodeToString(sum.Sum(nil)); in.Digest != "" && got != in.Digest {
		f.Close()
		return nil, 0, &InputError{Input: in.Object, Err: fmt.Errorf("has SHA-256 %s, and its job says %s", got, in.Digest)}
	}
	return f, n, nil
}

// sizeSeen is the size of an object read up to one byte past declared:
// "more than" declared if it reached that byte.
func sizeSeen(n, declared int64) string {
	if n > declared {
		return fmt.Sprintf("more than %d", declared)
	}
	return strconv.FormatInt(n, 10)
}
