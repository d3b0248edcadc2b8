package mr

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// Lineage is everything a map task's output is a function of: the bytes it
// read, the code that read them and how it partitioned what it emitted.
// Two map tasks of equal lineage write the same output, so a later job can
// use an earlier one's instead of running its own.
type Lineage struct {
	Digest  string   `json:"digest"` // SHA-256 of the input
	Offset  int64    `json:"offset"` // of the input in its file: records know it
	Split   Split    `json:"split"`
	App     string   `json:"app"`
	Version string   `json:"version"`
	Args    []string `json:"args"`
	R       int      `json:"r"`
}

// MapLineage is the lineage of a map task of app over split of in. It is
// not ok for an input without a digest, a path whose bytes may change.
func MapLineage(in *Input, split Split, app App, args []string, r int) (Lineage, bool) {
	if in == nil || in.Digest == "" {
		return Lineage{}, false
	}
	return Lineage{Digest: in.Digest, Offset: in.Offset, Split: split, App: app.Name(), Version: app.Version(), Args: args, R: r}, true
}

// Key is the lineage's key in BucketLineage: a digest of all of it.
func (l Lineage) Key() string {
	if l.Args == nil {
		l.Args = []string{} // no arguments and an empty list are one lineage
	}
	data, _ := json.Marshal(l)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

// LineageEntry is the value under a lineage key: the committed map output
// of that lineage, and when a job last used it. The worker that commits a
// map output records it; a job that reuses it renews Used; the master
// removes entries unused for its retention period, and then their objects.
type LineageEntry struct {
	Lineage  Lineage    `json:"lineage"` // what the key is a digest of
	Job      string     `json:"job"`     // whose map task wrote the output
	Index    int        `json:"index"`
	Attempt  int        `json:"attempt"`
	Outputs  MapOutputs `json:"outputs"` // as in its Commit
	Counters Counters   `json:"counters"`
	Used     int64      `json:"used"` // Unix nanoseconds
}
