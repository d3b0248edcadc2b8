package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
)

// ownedFile matches the names of the files writeOutputs writes: the only
// ones --force removes.
var ownedFile = regexp.MustCompile(`^part-[0-9]{5,}(\.tmp)?$`)

// checkOutputDir checks that dir can take a job's output files: it must
// be empty or absent, unless force, with which it may hold the output files
// of an earlier job, and nothing else. It returns those, for writeOutputs
// to remove so that none is left beside the new ones.
func checkOutputDir(dir string, force bool) (stale []string, err error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var owned, other []string
	for _, e := range entries {
		if ownedFile.MatchString(e.Name()) && e.Type().IsRegular() {
			owned = append(owned, e.Name())
		} else {
			other = append(other, e.Name())
		}
	}
	switch {
	case len(entries) == 0:
		return nil, nil
	case !force:
		return nil, fmt.Errorf("output directory %s is not empty; --force replaces its part-* files", dir)
	case len(other) > 0:
		return nil, fmt.Errorf("output directory %s holds %s, which is not an output file; --force removes only part-* files", dir, other[0])
	}
	return owned, nil
}

// writeOutputs removes the stale files checkOutputDir found in dir, then
// streams each of the job's outputs from the object store to its file in
// dir, through a temporary file renamed into place once it is whole and
// synced: a killed drover leaves no half-written part file.
func writeOutputs(ctx context.Context, store *mr.Store, st master.JobStatus, dir string, stale []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	for r, name := range st.Outputs {
		var digest string
		if r < len(st.OutputDigests) {
			digest = st.OutputDigests[r]
		}
		if err := writeOutputAgain(ctx, store, name, digest, filepath.Join(dir, mr.OutputFile(r))); err != nil {
			return fmt.Errorf("write output %d: %w", r, err)
		}
	}
	return nil
}

// outputReadWait bounds how long an output whose read failed midway is
// read again. An object's chunks come through a consumer that any
// replica may serve: one that rejoined its cluster after a partition may
// not deliver them until it has caught up, and the read times out.
const outputReadWait = 30 * time.Second

// writeOutputAgain is writeOutput, tried again, backing off, for up to
// outputReadWait while it fails for any reason but an object lost
// (mr.GetObject has waited already) or changed.
func writeOutputAgain(ctx context.Context, store *mr.Store, object, digest, path string) error {
	start := time.Now()
	for wait := 250 * time.Millisecond; ; wait = min(2*wait, 5*time.Second) {
		err := writeOutput(ctx, store, object, digest, path)
		if err == nil || errors.Is(err, jetstream.ErrObjectNotFound) || errors.Is(err, mr.ErrOutputChanged) ||
			ctx.Err() != nil || time.Since(start)+wait > outputReadWait {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
	}
}

// writeOutput writes object to path, if it is the object whose digest
// its reduce's commit recorded: the object store checks the bytes against
// the object's digest as they are read.
func writeOutput(ctx context.Context, store *mr.Store, object, digest, path string) error {
	obj, err := mr.GetObject(ctx, store.Data, object)
	if err != nil {
		return err
	}
	defer obj.Close()
	info, err := obj.Info()
	if err != nil {
		return err
	}
	if err := mr.CheckOutput(object, info.Digest, digest); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, obj)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
