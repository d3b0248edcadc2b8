package main

import (
	"fmt"
	"io"

	"github.com/drover-dev/drover/internal/cli"
)

// exitCode is what cli.Main does with run's error, without exiting: the
// status, and the one line printed on stderr.
func exitCode(err error, stderr io.Writer) int {
	code, line := cli.Exit("drover", err, false)
	if line != "" {
		fmt.Fprintln(stderr, line)
	}
	return code
}
