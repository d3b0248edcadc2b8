package rpcq

import "context"

// CallInfo is what a handler can learn about the call it serves, so that
// it can store its effect and the call's completion record atomically in
// its own storage: the only way to exactly-once across a crash of the
// handler's process (see MemoryTable.Restore and examples/kv).
type CallInfo struct {
	ID    RequestID // the call's identity in the duplicate table
	Ack   uint64    // the client's watermark when it sent the call
	Codec Codec     // the codec of the request, and so of its reply
}

type callInfoKey struct{}

// CallInfoFrom returns the CallInfo of the call ctx belongs to; ok is false
// for calls that do not go through the duplicate table.
func CallInfoFrom(ctx context.Context) (info CallInfo, ok bool) {
	info, ok = ctx.Value(callInfoKey{}).(CallInfo)
	return info, ok
}
