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
// number, the client's watermark and the encoded reply), written and
// fsynced before the call is answered. A record cut short by a crash is
// discarded on restart, effect and completion together; a whole record
// restores both. On start the server replays the log into its data and
// into an rpcq.MemoryTable (see rpcq.MemoryTable.Restore), so a retry of a
// call that completed before the crash is answered, not run again.
//
// JetStream would also do (rpcq.KVTable), but only for the completion
// records: the data would still live apart from them.
//
// The log grows without bound; compacting it into a snapshot is not done.
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
package kv
