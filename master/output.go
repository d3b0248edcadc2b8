package master

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// A done job's outputs are read through the master, as many of the
// object store's chunks a call as fit a reply (Master.Output), by whoever
// may see the job. NATS
// permissions cannot confine a reader of the object store to some of its
// objects: the chunks' subjects carry random NUIDs, not job IDs. So those
// who see only their own jobs are granted no read of the store at all,
// and the master, which knows each job's owner, reads for them.

// OutputArgs ask Master.Output for a piece of one of a done job's
// outputs.
type OutputArgs struct {
	ID string `json:"id"`
	// Partition is the output's reduce partition, 0 to R-1.
	Partition int `json:"partition"`
	// After is the Next of the piece before, 0 for the first.
	After uint64 `json:"after,omitempty"`
}

// OutputPiece is one piece of an output, in order. A reader has the
// whole output once it holds Size bytes, and checks them against Digest.
type OutputPiece struct {
	Data []byte `json:"data"`
	// Next is the After of the call for the piece that follows.
	Next uint64 `json:"next"`
	// Size is the whole output's size in bytes.
	Size uint64 `json:"size"`
	// Digest is the whole output's digest, as the object store writes it
	// ("SHA-256=" and the base64url of the sum) and as the
	// reduce's commit recorded it.
	Digest string `json:"digest"`
}

// Bounds of a piece: the object store's chunks are 128 KiB unless their
// writer chose otherwise, and a piece of several must fit a reply.
const (
	maxChunk     = 512 << 10
	maxPiece     = 768 << 10
	replyReserve = 64 << 10 // of the max payload, for rpcq's headers and framing
)

// Output is the piece of job id's output r that follows after (see
// OutputArgs), for caller ("" for one who may see every job): as many of
// the object's chunks as fit a reply.
func (m *Master) Output(ctx context.Context, caller, id string, r int, after uint64) (OutputPiece, error) {
	name, digest, err := m.output(caller, id, r)
	if err != nil {
		return OutputPiece{}, err
	}
	for fresh := false; ; fresh = true {
		info, err := m.outputs.info(ctx, m.store.Data, name, fresh)
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			if m.removed(ctx, name) {
				return OutputPiece{}, rpcq.Errorf(rpcq.CodeInternal, "output %d of job %s is gone from the object store", r, id)
			}
			return OutputPiece{}, notYet(r, id)
		}
		if err != nil {
			return OutputPiece{}, notNow(r, id, err)
		}
		if err := mr.CheckOutput(name, info.Digest, digest); err != nil {
			return OutputPiece{}, err
		}
		piece, err := m.piece(ctx, info, after)
		switch {
		case errors.Is(err, jetstream.ErrMsgNotFound) && !fresh:
			continue // the object may have been put again since its info was read
		case errors.Is(err, jetstream.ErrMsgNotFound):
			return OutputPiece{}, notYet(r, id)
		case errors.Is(err, errBadChunk):
			return OutputPiece{}, fmt.Errorf("output %d of job %s: %w", r, id, err)
		case err != nil:
			return OutputPiece{}, notNow(r, id, err)
		}
		return piece, nil
	}
}

// A direct get may be answered by any replica of the object store's
// stream, and one that rejoined its cluster after a partition answers
// "not found" of what it has not caught up with yet. So an output that
// is not found, and not known removed, is answered CodeNotYet, after
// which a reader asks again, backing off, for a while (drover get: up to
// 30 s). A cursor past the output's last piece is answered so too: the
// master cannot tell it from a replica behind, and only a reader that
// does not follow Next sends one.

// CodeNotYet is the rpcq error code of an output not found for now.
const CodeNotYet = 425

// notYet is the answer about output r of job id, not found for now.
func notYet(r int, id string) error {
	return rpcq.Errorf(CodeNotYet, "output %d of job %s is not found for now (a replica behind its peers?)", r, id)
}

// notNow is the answer about output r of job id, which could not be
// read for err: JetStream's trouble (a time-out, a stream without a
// leader for now) passes, so it is answered CodeNotYet too.
func notNow(r int, id string, err error) error {
	return rpcq.Errorf(CodeNotYet, "output %d of job %s cannot be read for now: %v", r, id, err)
}

// errBadChunk is an object whose chunks are larger than it says.
var errBadChunk = errors.New("a chunk larger than its object's chunk size")

// removed reports whether the object store holds the removal of object
// name: a replica behind may not know of the object at all, but one that
// knows it was removed is not wrong.
func (m *Master) removed(ctx context.Context, name string) bool {
	info, err := m.store.Data.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
	return err == nil && info.Deleted
}

// piece is the piece of the object info describes after the stream
// sequence after: jetstream.ErrMsgNotFound if the object has none.
func (m *Master) piece(ctx context.Context, info *jetstream.ObjectInfo, after uint64) (OutputPiece, error) {
	piece := OutputPiece{Size: info.Size, Digest: info.Digest, Next: after}
	if info.Size == 0 || after == math.MaxUint64 {
		return piece, nil
	}
	// Up to the budget less one chunk: the broker stops a batch once it
	// has sent the bytes asked for, with the chunk that passed them.
	budget, chunkSize := min(maxPiece, int(m.nc.MaxPayload())-replyReserve), maxChunk
	if info.Opts != nil && info.Opts.ChunkSize > 0 && info.Opts.ChunkSize < maxChunk {
		chunkSize = int(info.Opts.ChunkSize)
	}
	chunks, err := directBatch(ctx, m.nc, mr.ObjectStoreStream(mr.ObjectStoreData), mr.ObjectChunks(mr.ObjectStoreData, info.NUID), after, max(budget-chunkSize, 1))
	if err != nil {
		return OutputPiece{}, err
	}
	piece.Data = make([]byte, 0, min(uint64(budget), info.Size))
	for _, c := range chunks {
		if len(c.data) > chunkSize || len(piece.Data)+len(c.data) > budget {
			return OutputPiece{}, fmt.Errorf("%w: %d bytes, over %d", errBadChunk, len(c.data), chunkSize)
		}
		piece.Data, piece.Next = append(piece.Data, c.data...), c.seq
	}
	return piece, nil
}

// output is the object and digest of job id's output r, if caller may see
// the job and it is done: what Status says of it, read for each piece
// without making the whole status.
func (m *Master) output(caller, id string, r int) (name, digest string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v := m.jobs[id]
	if !seesLocked(caller, v) {
		return "", "", noJob(id)
	}
	if state, _ := m.stateLocked(id, v); state != JobDone || v.waiting != "" {
		return "", "", rpcq.Errorf(rpcq.CodeBadRequest, "job %s is %s, not done", id, state)
	}
	if r < 0 || r >= v.rec.Spec.R {
		return "", "", rpcq.Errorf(rpcq.CodeBadRequest, "job %s has outputs 0 to %d, not %d", id, v.rec.Spec.R-1, r)
	}
	c := v.commits[TaskID{Job: id, Phase: mr.PhaseReduce, Index: r}]
	if len(c.Outputs) > 0 {
		name = c.Outputs[0]
	}
	return name, c.Digest(0), nil
}

// objectInfos caches the infos of the outputs being read: an output is
// read a piece a call, and its info does not change once its reduce
// committed it (its name is its attempt's own). Safe for concurrent use.
type objectInfos struct {
	mu    sync.Mutex
	infos map[string]*jetstream.ObjectInfo
}

// maxObjectInfos bounds the cache: past it, it starts again empty.
const maxObjectInfos = 256

// info is the info of object name of store, as cached unless fresh.
func (c *objectInfos) info(ctx context.Context, store jetstream.ObjectStore, name string, fresh bool) (*jetstream.ObjectInfo, error) {
	c.mu.Lock()
	info := c.infos[name]
	c.mu.Unlock()
	if info != nil && !fresh {
		return info, nil
	}
	info, err := store.GetInfo(ctx, name)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.infos == nil || len(c.infos) >= maxObjectInfos {
		c.infos = map[string]*jetstream.ObjectInfo{}
	}
	c.infos[name] = info
	return info, nil
}
