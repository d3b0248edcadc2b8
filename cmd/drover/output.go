package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/master"
	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
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
// streams each of the job's outputs, read through the master, to its file
// in dir, through a temporary file renamed into place once it is whole,
// checked and synced: a killed drover leaves no half-written part file.
func writeOutputs(ctx context.Context, m *masterClient, st master.JobStatus, dir string, stale []string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	// A few outputs at once: each is read a piece a call, and each call
	// waits on the master, found first by one of them alone.
	if err := m.ready(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	slots := make(chan struct{}, outputsAtOnce)
	var wg sync.WaitGroup
	for r := range st.Outputs {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-slots }()
			out := &outputReader{ctx: ctx, m: m, args: master.OutputArgs{ID: st.ID, Partition: r}, hash: sha256.New()}
			if err := writeFile(filepath.Join(dir, mr.OutputFile(r)), out); err != nil {
				cancel(fmt.Errorf("write output %d: %w", r, err))
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// outputsAtOnce is how many outputs writeOutputs reads at once.
const outputsAtOnce = 4

// writeFile writes what r reads to path, through path.tmp, renamed into
// place once r ends without error and the file is synced.
func writeFile(path string, r io.Reader) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(f, r)
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

// outputReader reads one of a done job's outputs through the master
// (Master.Output), a piece a call. It ends with io.EOF once it has read
// the output's size in bytes and they have its digest, and with an error
// otherwise: a piece past the size, an output that changed while read.
type outputReader struct {
	ctx    context.Context
	m      *masterClient
	args   master.OutputArgs
	hash   hash.Hash
	first  *master.OutputPiece // the first piece's size and digest
	got    uint64
	unread []byte
}

func (o *outputReader) Read(p []byte) (int, error) {
	for len(o.unread) == 0 {
		if o.first != nil && o.got == o.first.Size {
			if jetstream.GetObjectDigestValue(o.hash) != o.first.Digest {
				return 0, fmt.Errorf("%w: output %d of job %s does not have the digest %s", mr.ErrOutputChanged, o.args.Partition, o.args.ID, o.first.Digest)
			}
			return 0, io.EOF
		}
		if err := o.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, o.unread)
	o.unread = o.unread[n:]
	return n, nil
}

// staleReadWait is how long a reader asks again for an output the master
// cannot read for now (master.CodeNotYet): a replica that rejoined its
// cluster answers "not found" until it has caught up, and a stream
// without a leader for now answers nothing.
var staleReadWait = 30 * time.Second

// call asks the master for the piece o.args names, again while the master
// answers that it is not found for now, up to staleReadWait.
func (o *outputReader) call(piece *master.OutputPiece) error {
	wait, start := 50*time.Millisecond, time.Now()
	for {
		err := o.m.call(o.ctx, mr.MethodOutput, o.args, piece)
		var remote *rpcq.RemoteError
		if !errors.As(err, &remote) || remote.Code != master.CodeNotYet || time.Since(start)+wait > staleReadWait {
			return err
		}
		select {
		case <-o.ctx.Done():
			return o.ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Second)
	}
}

// next reads the next piece into o.unread.
func (o *outputReader) next() error {
	var piece master.OutputPiece
	if err := o.call(&piece); err != nil {
		return err
	}
	if o.first == nil {
		o.first = &master.OutputPiece{Size: piece.Size, Digest: piece.Digest}
	}
	n := uint64(len(piece.Data))
	switch {
	case piece.Size != o.first.Size || piece.Digest != o.first.Digest:
		return fmt.Errorf("%w: output %d of job %s changed while it was read", mr.ErrOutputChanged, o.args.Partition, o.args.ID)
	case n > o.first.Size-o.got, n == 0 && o.got < o.first.Size:
		return fmt.Errorf("output %d of job %s: a piece of %d bytes after %d of %d", o.args.Partition, o.args.ID, n, o.got, o.first.Size)
	}
	o.got += n
	o.hash.Write(piece.Data)
	o.unread, o.args.After = piece.Data, piece.Next
	return nil
}
