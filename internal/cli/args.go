package cli

import (
	"errors"
	"flag"
	"io"
)

// Parse parses args with fs, allowing flags after positional arguments
// (`drover call Svc.Method '{}' --timeout 2s`), and returns the positionals.
// A lone "--" ends flag parsing. A bad flag is only returned, for the
// caller's one line of error: the page of flags is shown for -h alone.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	pos, err := parse(fs, args)
	fs.SetOutput(out)
	fs.Usage = usage
	if errors.Is(err, flag.ErrHelp) {
		usage()
	}
	return pos, err
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
