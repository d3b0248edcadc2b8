package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// NewFlagSet returns a flag set whose -h page reads "Usage: NAME SYNOPSIS",
// then the description, then the flags, and which has --version.
func NewFlagSet(name, synopsis, description string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		var b strings.Builder
		fmt.Fprintf(&b, "Usage: %s %s\n\n", name, synopsis)
		if description != "" {
			fmt.Fprintf(&b, "%s\n\n", strings.TrimSpace(description))
		}
		b.WriteString("Flags:\n")
		io.WriteString(fs.Output(), b.String())
		fs.PrintDefaults()
	}
	return fs
}

// Parse parses args with fs, allowing flags after positional arguments
// (`drover call Svc.Method '{}' --timeout 2s`), and returns the positionals.
// A lone "--" ends flag parsing. A bad flag is returned as a *UsageError,
// for the caller's one line of error: the page of flags is shown for -h
// alone. A set --version flag makes Parse return ErrVersion.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	pos, err := parse(fs, args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage()
		return nil, err
	case err != nil:
		return nil, &UsageError{err.Error()}
	}
	if v := fs.Lookup("version"); v != nil && v.Value.String() == "true" {
		return nil, ErrVersion
	}
	return pos, nil
}

func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		if args[0] == "--" {
			return append(positional, args[1:]...), nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}
