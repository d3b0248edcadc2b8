package main

import (
	"os"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/mr"
)

// sampleSortCuts gives a job of the sort app, whose cut points no --arg
// gave, the cut points of its R ranges, sampled from its files, as
// TeraSort samples its input before the job starts.
func sampleSortCuts(spec *mr.JobSpec, files []string) error {
	if spec.App != "sort" || len(spec.Args) > 0 || spec.R == 1 {
		return nil
	}
	var inputs []apps.SampleInput
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		inputs = append(inputs, apps.SampleInput{R: f, Size: st.Size()})
	}
	cuts, err := apps.SampleCuts(inputs, spec.R)
	if err != nil {
		return usagef("%v", err)
	}
	spec.Args = apps.SortArgs(cuts)
	return nil
}
