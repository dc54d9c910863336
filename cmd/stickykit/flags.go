package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
)

// newFlags returns a flag set for one subcommand whose usage text begins
// with the synopsis and a paragraph of description.
func (e *env) newFlags(name, synopsis, about string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: stickykit %s %s\n\n%s\n\nFlags:\n", name, synopsis, strings.TrimSpace(about))
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, allowing flags after positional arguments (as in
// "stickykit get report.pdf -o out.pdf"); everything after "--" is
// positional. It returns the positional arguments, the exit code to use,
// and false when the command should stop (help was asked for, or the flags
// were bad).
func (e *env) parse(fs *flag.FlagSet, args []string) ([]string, int, bool) {
	var pos []string
	usage := fs.Usage
	// The flag package prints the usage itself on an error; print it only
	// for --help (to stdout), and a one-line hint otherwise.
	fs.Usage = func() {}
	defer func() { fs.Usage = usage }()
	for {
		err := fs.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(e.stdout)
			usage()
			return nil, exitOK, false
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "Run \"stickykit %s --help\" for usage.\n", fs.Name())
			return nil, exitUsage, false
		}
		rest := fs.Args()
		// flag.Parse stops at the first non-flag or after "--".
		consumed := len(args) - len(rest)
		if len(rest) == 0 {
			return pos, 0, true
		}
		if consumed > 0 && args[consumed-1] == "--" {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// usageErr reports a usage mistake and returns exitUsage.
func (e *env) usageErr(fs *flag.FlagSet, format string, args ...any) int {
	e.errorf("%s: %s", fs.Name(), fmt.Sprintf(format, args...))
	fmt.Fprintf(e.stderr, "Run \"stickykit %s --help\" for usage.\n", fs.Name())
	return exitUsage
}
