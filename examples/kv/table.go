package kv

import (
	"context"
	"time"

	"github.com/drover-dev/drover/rpcq"
)

// oldValue marks a saved reply whose Body is an Append's old value itself,
// a slice of the data's own bytes, not its encoding: however large the
// value, a finished Append costs a slice header until its client
// acknowledges it or expires. The reply is encoded when a duplicate asks.
const oldValue = "kv: old value"

// savedTable is the service's duplicate table: an rpcq.MemoryTable whose
// saved Append replies share the data's bytes (see oldValue).
type savedTable struct {
	*rpcq.MemoryTable
	s *Server
}

// Begin implements rpcq.Table, encoding a saved old value.
func (t savedTable) Begin(ctx context.Context, id rpcq.RequestID, ack uint64, now time.Time) (rpcq.Verdict, rpcq.Reply, <-chan struct{}, error) {
	v, r, wait, err := t.MemoryTable.Begin(ctx, id, ack, now)
	if v == rpcq.Answered && r.Message == oldValue {
		r, err = encodeOld(r), nil
	}
	return v, r, wait, err
}

// Finish implements rpcq.Table, saving an Append's old value by reference.
func (t savedTable) Finish(ctx context.Context, id rpcq.RequestID, r rpcq.Reply) error {
	t.s.mu.Lock()
	defer t.s.mu.Unlock()
	if done, ok := t.s.unfinished[id]; ok {
		delete(t.s.unfinished, id)
		if r.Code == 0 {
			r = done.reply
		}
	}
	return t.MemoryTable.Finish(ctx, id, r)
}

// encodeOld is the reply saved as oldValue, as the client gets it.
func encodeOld(r rpcq.Reply) rpcq.Reply {
	codec := rpcq.Msgpack
	if r.JSON {
		codec = rpcq.JSON
	}
	body, err := codec.Marshal(string(r.Body))
	if err != nil {
		return rpcq.Reply{Code: 500, Message: "kv: encode saved reply: " + err.Error(), JSON: r.JSON}
	}
	return rpcq.Reply{Body: body, JSON: r.JSON}
}

// savedReply is the reply a change saves for its call: for Append the
// old value by reference, for Put the empty reply.
func savedReply(op string, old []byte, json bool) rpcq.Reply {
	if op == opAppend {
		return rpcq.Reply{Message: oldValue, Body: old, JSON: json}
	}
	codec := rpcq.Msgpack
	if json {
		codec = rpcq.JSON
	}
	body, _ := codec.Marshal(Empty{}) // cannot fail
	return rpcq.Reply{Body: body, JSON: json}
}

// unfinished is a call whose change is logged and applied and whose reply
// the table has not saved yet: a compaction must write it all the same.
type unfinished struct {
	ack   uint64
	at    int64
	reply rpcq.Reply
}
