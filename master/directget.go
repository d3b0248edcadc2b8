package master

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A batched direct get (nats-server 2.11 and later) answers one request
// with the messages of a subject from a sequence on, up to a count or a
// number of bytes, each as a message of its own, then an end-of-batch
// status: what reading an object's chunks a reply at a time needs, in one
// round trip. nats.go has no call for it.

// chunk is a message a batched direct get answered.
type chunk struct {
	seq  uint64
	data []byte
}

// Bounds of a batched direct get.
const (
	maxBatch      = 1024
	directGetWait = 10 * time.Second
)

// directBatch is the messages on subject of stream after the sequence
// after, up to about maxBytes of them, as the stream's direct get answers
// them: jetstream.ErrMsgNotFound if there is none.
func directBatch(ctx context.Context, nc *nats.Conn, stream, subject string, after uint64, maxBytes int) ([]chunk, error) {
	ctx, cancel := context.WithTimeout(ctx, directGetWait)
	defer cancel()
	req, err := json.Marshal(struct {
		Seq      uint64 `json:"seq"`
		NextFor  string `json:"next_by_subj"`
		Batch    int    `json:"batch"`
		MaxBytes int    `json:"max_bytes"`
	}{after + 1, subject, maxBatch, maxBytes})
	if err != nil {
		return nil, err
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return nil, err
	}
	defer sub.Unsubscribe()
	if err := nc.PublishRequest("$JS.API.DIRECT.GET."+stream, inbox, req); err != nil {
		return nil, err
	}
	var chunks []chunk
	for len(chunks) <= maxBatch {
		msg, err := sub.NextMsgWithContext(ctx)
		if err != nil {
			return nil, fmt.Errorf("direct get: %w", err)
		}
		switch status := msg.Header.Get("Status"); status {
		case "":
			seq, err := strconv.ParseUint(msg.Header.Get(jetstream.SequenceHeader), 10, 64)
			if err != nil || seq <= after || msg.Header.Get(jetstream.SubjectHeader) != subject {
				return nil, fmt.Errorf("direct get: an answer of sequence %q on %q", msg.Header.Get(jetstream.SequenceHeader), msg.Header.Get(jetstream.SubjectHeader))
			}
			chunks = append(chunks, chunk{seq: seq, data: msg.Data})
		case "204": // the end of the batch
			return chunks, nil
		case "404":
			return nil, jetstream.ErrMsgNotFound
		default:
			return nil, fmt.Errorf("direct get: status %s %s", status, msg.Header.Get("Description"))
		}
	}
	return nil, fmt.Errorf("direct get: more than %d answers", maxBatch)
}
