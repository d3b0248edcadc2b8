package rpcqtest

import "github.com/anishathalye/porcupine"

// KVInput is an operation on the lecture's key/value service, as
// KVModel's histories record it: Op is "get", "put" or "append".
type KVInput struct {
	Op, Key, Value string
}

// KVModel is the sequential specification of the key/value service for
// porcupine's linearizability checker: Get returns the value, Put sets
// it, and Append appends and returns the old value (the output of a Put is
// ignored). Histories are partitioned by key.
//
// An append whose outcome the caller never learnt (its call timed out, or
// was answered rpcq.ErrOutcomeUnknown) is recorded with a nil Output and
// a Return after every other operation's: it may have taken effect at any
// moment after its call, or not at all, which porcupine then places last.
var KVModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range history {
			k := op.Input.(KVInput).Key
			if _, ok := byKey[k]; !ok {
				keys = append(keys, k)
			}
			byKey[k] = append(byKey[k], op)
		}
		parts := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			parts = append(parts, byKey[k])
		}
		return parts
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		st, in := state.(string), input.(KVInput)
		switch in.Op {
		case "get":
			return output.(string) == st, st
		case "put":
			return true, in.Value
		case "append":
			if output == nil {
				return true, st + in.Value
			}
			return output.(string) == st, st + in.Value
		}
		return false, st
	},
	Equal: func(a, b any) bool { return a == b },
}
