package master

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/drover-dev/drover/mr"
	"github.com/drover-dev/drover/rpcq"
)

// A done job's outputs are read through the master, one object store
// chunk a call (Master.Output), by whoever may see the job. NATS
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
	// ("SHA-256=" and the unpadded base64url of the sum) and as the
	// reduce's commit recorded it.
	Digest string `json:"digest"`
}

// maxPiece bounds a piece's bytes: the object store's chunks are 128 KiB
// unless their writer chose otherwise, and a piece must fit a reply.
const maxPiece = 512 << 10

// Output is the piece of job id's output r that follows after (see
// OutputArgs), for caller ("" for one who may see every job).
func (m *Master) Output(ctx context.Context, caller, id string, r int, after uint64) (OutputPiece, error) {
	name, digest, err := m.output(caller, id, r)
	if err != nil {
		return OutputPiece{}, err
	}
	info, err := m.store.Data.GetInfo(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return OutputPiece{}, rpcq.Errorf(rpcq.CodeInternal, "output %d of job %s is gone from the object store", r, id)
	}
	if err != nil {
		return OutputPiece{}, err
	}
	if err := mr.CheckOutput(name, info.Digest, digest); err != nil {
		return OutputPiece{}, err
	}
	piece := OutputPiece{Size: info.Size, Digest: info.Digest}
	if info.Size == 0 || after == math.MaxUint64 {
		return piece, nil
	}
	stream, err := m.store.JS.Stream(ctx, mr.ObjectStoreStream(mr.ObjectStoreData))
	if err != nil {
		return OutputPiece{}, err
	}
	msg, err := stream.GetMsg(ctx, after+1, jetstream.WithGetMsgSubject(mr.ObjectChunks(mr.ObjectStoreData, info.NUID)))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return OutputPiece{}, rpcq.Errorf(rpcq.CodeBadRequest, "output %d of job %s has no piece after %d", r, id, after)
	}
	if err != nil {
		return OutputPiece{}, err
	}
	if len(msg.Data) > maxPiece {
		return OutputPiece{}, fmt.Errorf("output %d of job %s has a chunk of %d bytes, over %d", r, id, len(msg.Data), maxPiece)
	}
	piece.Data, piece.Next = msg.Data, msg.Sequence
	return piece, nil
}

// output is the object and digest of job id's output r, if caller may see
// the job and it is done.
func (m *Master) output(caller, id string, r int) (name, digest string, err error) {
	if !m.sees(caller, id) {
		return "", "", noJob(id)
	}
	st, _ := m.Status(id)
	switch {
	case st.State != JobDone:
		return "", "", rpcq.Errorf(rpcq.CodeBadRequest, "job %s is %s, not done", id, st.State)
	case r < 0 || r >= len(st.Outputs):
		return "", "", rpcq.Errorf(rpcq.CodeBadRequest, "job %s has outputs 0 to %d, not %d", id, len(st.Outputs)-1, r)
	}
	return st.Outputs[r], st.OutputDigests[r], nil
}
