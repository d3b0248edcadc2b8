package mr

import (
	"fmt"
	"strconv"
	"strings"
)

// MapOutputs names the objects of one execution of a map task: one
// object per non-empty partition, under one prefix. A commit of it
// costs R bits, not R names, so that a reduce reading every map's commit
// reads maps × R bits, and a master keeps one prefix per map.
type MapOutputs struct {
	// Prefix is MapOutputPrefix of the job, map task and execution that
	// wrote the objects: this job's own, or an earlier job's for a
	// reused output.
	Prefix string `json:"prefix"`
	// Parts has bit r%8 of byte r/8 set when partition r has an object:
	// an empty partition needs none.
	Parts []byte `json:"parts"`
	// R is the number of partitions.
	R int `json:"r"`
}

// NewMapOutputs is the outputs of an execution of map task n of job, of
// r partitions, none of them written yet (see Set).
func NewMapOutputs(job string, n int, execution string, r int) MapOutputs {
	return MapOutputs{Prefix: MapOutputPrefix(job, n, execution), Parts: make([]byte, (r+7)/8), R: r}
}

// Set records that partition r has an object.
func (o MapOutputs) Set(r int) { o.Parts[r/8] |= 1 << (r % 8) }

// Object is the name of partition r's object, or "" for an empty
// partition.
func (o MapOutputs) Object(r int) string {
	if r < 0 || r >= o.R || o.Parts[r/8]&(1<<(r%8)) == 0 {
		return ""
	}
	return o.Prefix + "/part-" + strconv.Itoa(r)
}

// Objects lists the names of every object, in partition order.
func (o MapOutputs) Objects() []string {
	var names []string
	for r := range o.R {
		if name := o.Object(r); name != "" {
			names = append(names, name)
		}
	}
	return names
}

// Validate checks outputs as a commit record or a lineage entry brings
// them, for a job of r partitions: anyone who may write either may write
// anything.
func (o MapOutputs) Validate(r int) error {
	switch {
	case o.R != r:
		return fmt.Errorf("mr: map outputs of %d partitions, want %d", o.R, r)
	case len(o.Parts) != (r+7)/8:
		return fmt.Errorf("mr: map outputs with %d bytes of partitions, want %d", len(o.Parts), (r+7)/8)
	case len(o.Prefix) > maxMapOutputPrefixLen || !strings.HasPrefix(o.Prefix, "jobs/") || strings.ContainsAny(o.Prefix, "\x00\n"):
		return fmt.Errorf("mr: map outputs prefix %.80q", o.Prefix)
	}
	return nil
}

// maxMapOutputPrefixLen bounds a MapOutputPrefix: the job ID, the task
// number and the execution, with their separators.
const maxMapOutputPrefixLen = MaxJobIDLen + 64
