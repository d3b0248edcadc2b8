// Package kv is the lecture's key/value service on rpcq: Put, Append
// (which returns the old value) and Get, with exactly-once calls that
// survive a crash of the server.
//
// # Why its own log
//
// A duplicate table written apart from the data it protects cannot be
// exactly-once across a crash: the process can die after the effect and
// before the completion record, or the other way round. So the server
// keeps both in one append-only log: each Put or Append is one record that
// holds the effect and the call's completion record (its client, sequence
// number, the client's watermark and its codec), written and fsynced
// before the call is answered. The reply is not written: it is rebuilt
// from the data on replay (Put's is empty, Append's is the value before
// it), so a record costs what the call brought, not the value it read. A record cut short by a crash is
// discarded on restart, effect and completion together; a whole record
// restores both. On start the server replays the log into its data and
// into an rpcq.MemoryTable (see rpcq.MemoryTable.Restore), so a retry of a
// call that completed before the crash is answered, not run again.
//
// JetStream would also do (rpcq.KVTable), but only for the completion
// records: the data would still live apart from them.
//
// # Size
//
// Once the log has grown past twice its size after the last compaction
// plus Options.CompactSlack (1 MiB), it is compacted: a new log is
// written with the data, the duplicate table and the calls not yet in
// it, fsynced, and renamed over the old one, which a crash at any moment
// leaves whole either way. So the log stays within twice the live data
// plus the slack, and the bytes written within a small multiple of those
// the calls brought.
//
// In memory, an Append's saved reply is its old value as a slice of the
// data's own bytes: a value only grows in place or is replaced, so the
// prefix never changes, and a finished Append pins no copy of it. A
// compacted log writes it as a reference to that prefix.
//
// # Use
//
//	s, err := kv.Open(dir, kv.Options{})                 // replays dir/kv.log
//	srv, err := s.Serve(nc, rpcq.ExactlyOnce, cfg)      // rpcq.KV.Put, .Append, .Get
//	...
//	srv.Shutdown(ctx); s.Close()
//
//	c, err := kv.NewClient(nc, rpcq.ExactlyOnce, rpcq.ClientConfig{})
//	old, err := c.Append(ctx, "k", "x")
//
// A Server and a Client are safe for concurrent use.
//
// # Methods
//
// Each method takes one object, in msgpack from Go or in JSON, and
// answers in the same encoding:
//
//	rpcq.KV.Put     {"key":"k","value":"v"}  → {}
//	rpcq.KV.Append  {"key":"k","arg":"x"}    → the old value, a string: "v"
//	rpcq.KV.Get     {"key":"k"}              → the value, "" if it has none
//
// Get also takes the key alone, a string ("k"), which is what Client.Get
// sends. From a shell, a body that is JSON text is read as JSON with no
// more said, so
//
//	nats request rpcq.KV.Put '{"key":"k","value":"v"}'
//	nats request rpcq.KV.Get '{"key":"k"}'
//	nats request rpcq.KV.Get '"k"'
//
// work as they are. A call from a shell carries no
// call identity, so the duplicate table does not know it: sent twice, an
// Append runs twice.
package kv
