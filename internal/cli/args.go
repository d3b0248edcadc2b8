package cli

import "flag"

// Parse parses args with fs, allowing flags after positional arguments
// (`drover call Svc.Method '{}' --timeout 2s`), and returns the positionals.
// A lone "--" ends flag parsing.
func Parse(fs *flag.FlagSet, args []string) ([]string, error) {
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
