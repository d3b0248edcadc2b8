package kv

import (
	"cmp"
	"maps"
	"slices"

	"github.com/drover-dev/drover/rpcq"
)

// maxChunk bounds the part of a value one record of a compacted log holds.
const maxChunk = 1 << 20

// compactIfDue compacts the log once it has grown to twice its size after
// the last compaction plus the slack, so that its size follows the live
// data and the bytes written stay within a constant factor of those the
// calls brought. A failed compaction is reported and leaves the log as it
// was. It runs under s.mu.
func (s *Server) compactIfDue() {
	if s.log.size <= 2*s.log.base+s.opts.CompactSlack {
		return
	}
	if err := s.log.replace(s.snapshot); err != nil {
		s.opts.Logger.Error("kv: compacting the log failed; it goes on growing", "dir", s.log.dir, "error", err)
		s.log.base = s.log.size // try again once it has doubled
	}
}

// snapshot writes the state as records: the start, the data, and the
// duplicate table with the calls not yet in it. Replayed, they give the
// same state. An Append's saved old value that is still a prefix of its
// key's value, as it is unless a Put replaced the value since, is written
// as a reference to it.
func (s *Server) snapshot(put func(*record) error) error {
	if err := put(&record{Op: opSince, Since: s.since}); err != nil {
		return err
	}
	for _, key := range slices.Sorted(maps.Keys(s.data)) {
		v := s.data[key]
		op := opPut
		for first := true; first || len(v) > 0; first = false {
			n := min(len(v), maxChunk)
			if err := put(&record{Op: op, Key: key, Value: string(v[:n])}); err != nil {
				return err
			}
			op, v = opAppend, v[n:]
		}
	}
	values := s.valuesByArray()
	for _, c := range s.table.Snapshot() {
		at := c.LastSeen.UnixNano()
		if err := put(&record{Op: opClient, Client: c.Client, Ack: c.Ack, At: at}); err != nil {
			return err
		}
		for _, call := range c.Calls {
			if err := put(savedRecord(values, c.Client, call.Seq, c.Ack, at, call.Reply)); err != nil {
				return err
			}
		}
	}
	for _, id := range slices.SortedFunc(maps.Keys(s.unfinished), byID) {
		u := s.unfinished[id]
		if err := put(savedRecord(values, id.Client, id.Seq, u.ack, u.at, u.reply)); err != nil {
			return err
		}
	}
	return nil
}

// valuesByArray maps the first byte of each value to its key.
func (s *Server) valuesByArray() map[*byte]string {
	m := make(map[*byte]string, len(s.data))
	for key, v := range s.data {
		if len(v) > 0 {
			m[&v[0]] = key
		}
	}
	return m
}

// savedRecord is the record of a saved reply. An old value that begins at
// a value's first byte is a prefix of it: the bytes of a value never
// change, it only grows in place or is replaced by another array.
func savedRecord(values map[*byte]string, client string, seq, ack uint64, at int64, r rpcq.Reply) *record {
	rec := &record{Op: opSaved, Client: client, Seq: seq, Ack: ack, At: at, JSON: r.JSON}
	if r.Message == oldValue && len(r.Body) > 0 {
		if key, ok := values[&r.Body[0]]; ok {
			rec.Ref, rec.Key, rec.N = true, key, len(r.Body)
			return rec
		}
	}
	rec.Code, rec.Msg, rec.Body = r.Code, r.Message, r.Body
	return rec
}

func byID(a, b rpcq.RequestID) int {
	return cmp.Or(cmp.Compare(a.Client, b.Client), cmp.Compare(a.Seq, b.Seq))
}
