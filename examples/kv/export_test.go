package kv

// SetCompactHook makes f run at each stage of a compaction.
func SetCompactHook(f func(stage string)) { compactHook = f }
