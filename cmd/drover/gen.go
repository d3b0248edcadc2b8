package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/drover-dev/drover/apps"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/mr"
)

func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flagSet("gen", stderr, "--size SIZE [--seed N] -o FILE")
	var size cli.Size
	fs.Var(&size, "size", "bytes to write, such as 1GiB, rounded down to whole 100-byte records")
	seed := fs.Uint64("seed", 1, "the seed of the random keys: the same seed writes the same file")
	out := fs.String("o", "", "the file to write, replaced if it exists; - for standard output")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usagef("unexpected argument %q", pos[0])
	case size < apps.RecordSize || size > mr.MaxInputSize:
		return usagef("--size %v: want %d bytes to %v", size, apps.RecordSize, cli.Size(mr.MaxInputSize))
	case *out == "":
		return usagef("-o FILE is required")
	}
	if *out == "-" {
		_, err := apps.GenerateRecords(ctxWriter{ctx, stdout}, int64(size), *seed)
		return err
	}
	// Written beside the file and renamed once whole: an interrupted run
	// leaves no file that looks finished.
	tmp := *out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	n, err := apps.GenerateRecords(ctxWriter{ctx, f}, int64(size), *seed)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, *out)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	fmt.Fprintf(stderr, "drover: wrote %d records, %d bytes, to %s\n", n, n*apps.RecordSize, *out)
	return nil
}

// ctxWriter is w until ctx ends.
type ctxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c ctxWriter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.w.Write(p)
}
