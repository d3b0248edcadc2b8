package mr

import (
	"fmt"
	"strings"
)

// Counters are a task's built-in counters, named by phase as Hadoop's task
// counters are: a map task counts its input, its output and its combining,
// a reduce task its groups, input and output. A job's are the sums over
// its committed attempts only.
type Counters struct {
	// MapInputRecords are the records map was called on; skipped ones are
	// not among them.
	MapInputRecords int64 `json:"map_input_records"`
	// MapInputBytes are the bytes of input the maps read, line ends and
	// skipped records included: over a job, its inputs' sizes.
	MapInputBytes int64 `json:"map_input_bytes"`
	// MapSkippedRecords are the bad records skipped (see
	// JobSpec.SkipBadRecords).
	MapSkippedRecords int64 `json:"map_skipped_records"`
	// MapOutputRecords are the pairs map emitted, before combining.
	MapOutputRecords int64 `json:"map_output_records"`
	// MapOutputBytes are the bytes of the map output partitions as stored:
	// what the reduces read.
	MapOutputBytes int64 `json:"map_output_bytes"`
	// MapSpilledRecords are the pairs a map wrote to local disk because
	// its output outgrew its sort buffer (see MapConfig), as Hadoop's
	// spilled records: 0 when every output fitted.
	MapSpilledRecords    int64 `json:"map_spilled_records,omitempty"`
	CombineInputRecords  int64 `json:"combine_input_records"`
	CombineOutputRecords int64 `json:"combine_output_records"`
	// ReduceInputGroups are the distinct keys reduced.
	ReduceInputGroups  int64 `json:"reduce_input_groups"`
	ReduceInputRecords int64 `json:"reduce_input_records"` // values read
	// ReduceOutputRecords are the output lines written.
	ReduceOutputRecords int64 `json:"reduce_output_records"`
}

// counter is one of Counters' fields and its name for people.
type counter struct {
	name string
	n    *int64
}

// fields are c's counters, in the order String shows them.
func (c *Counters) fields() []counter {
	return []counter{
		{"map input records", &c.MapInputRecords},
		{"map input bytes", &c.MapInputBytes},
		{"map skipped records", &c.MapSkippedRecords},
		{"map output records", &c.MapOutputRecords},
		{"map output bytes", &c.MapOutputBytes},
		{"map spilled records", &c.MapSpilledRecords},
		{"combine input records", &c.CombineInputRecords},
		{"combine output records", &c.CombineOutputRecords},
		{"reduce input groups", &c.ReduceInputGroups},
		{"reduce input records", &c.ReduceInputRecords},
		{"reduce output records", &c.ReduceOutputRecords},
	}
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	of := o.fields()
	for i, f := range c.fields() {
		*f.n += *of[i].n
	}
}

// Sub takes o from c: a commit withdrawn no longer counts.
func (c *Counters) Sub(o Counters) {
	of := o.fields()
	for i, f := range c.fields() {
		*f.n -= *of[i].n
	}
}

// String is c for people, on one line: "map input records 5857, map
// input bytes 331024, ...". Skipped and spilled records show only when
// there are any.
func (c Counters) String() string {
	var parts []string
	for _, f := range c.fields() {
		if (f.n == &c.MapSkippedRecords || f.n == &c.MapSpilledRecords) && *f.n == 0 {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %d", f.name, *f.n))
	}
	return strings.Join(parts, ", ")
}
