package main

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/stickykit/stickykit/spec"
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

// durationValue is a time.Duration flag whose error says what it wants:
// "--grace 5" is told that a duration needs a unit.
type durationValue time.Duration

func (d *durationValue) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err == nil {
		*d = durationValue(v)
		return nil
	}
	if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
		return fmt.Errorf("a duration needs a unit: %ss, %sms or %sm", s, s, s)
	}
	return errors.New("not a duration: want a number with a unit, such as 30s, 500ms or 2m")
}

func (d *durationValue) String() string { return time.Duration(*d).String() }

// durationFlag defines a duration flag on fs. Its usage names the argument
// `duration` in backquotes, so that every duration flag shows as
// "-name duration" in --help.
func durationFlag(fs *flag.FlagSet, name string, value time.Duration, usage string) *time.Duration {
	if !strings.Contains(usage, "`duration`") {
		panic("usage of --" + name + " must name its argument `duration`")
	}
	p := new(time.Duration)
	*p = value
	fs.Var((*durationValue)(p), name, usage)
	return p
}

// inRange checks that the flag named name, of value v, lies in [lo, hi].
func inRange[T time.Duration | int | int64](name string, v, lo, hi T) error {
	if v >= lo && v <= hi {
		return nil
	}
	return fmt.Errorf("--%s %v is out of range: want %v to %v", name, v, lo, hi)
}

// framingValue is a --framing flag whose error names no Go package.
type framingValue struct{ f *spec.Framing }

func (v framingValue) Set(s string) error {
	if err := v.f.Set(s); err != nil {
		return errors.New(stripPackages(err.Error()))
	}
	return nil
}

func (v framingValue) String() string {
	if v.f == nil {
		return ""
	}
	return v.f.String()
}

// framingFlag defines a --framing flag on fs, storing into f.
func framingFlag(fs *flag.FlagSet, f *spec.Framing, usage string) {
	fs.Var(framingValue{f}, "framing", usage)
}
