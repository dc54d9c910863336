// Command stickykit serves, fetches and checks files over the stickykit
// exchange (SPEC.md), and shows the sticky-packet bug on demand.
//
// Usage:
//
//	stickykit demo      [--size N] [--delivery D] [--client C] [--svg FILE] [--lang en|zh]
//	stickykit serve     [--addr 127.0.0.1:8888] [--root DIR] [--framing lockstep|line]
//	stickykit get       [--addr ADDR] [--framing F] [-o OUT|-] [--max-time D] NAME
//	stickykit naive-get [--variant naive|article] [--addr ADDR] [--framing F] [-o OUT] NAME
//	stickykit proxy     --listen ADDR --to ADDR [shaping flags]
//	stickykit check     server --addr ADDR --root DIR [--framing F] [--json FILE] [--junit FILE]
//	stickykit check     server [--addr ADDR] [--root DIR] -- CMD ARG...   ({host} {port} {addr} {root})
//	stickykit check     client [--framing F] [--listen ADDR] [--stdin TEXT] [--collect PATTERN] [--ignore-status] -- CMD ARG...   ({host} {port} {addr} {name} {out})
//	stickykit bench     [--sizes LIST] [--svg FILE]
//
// Exit status: 0 on success, 1 when the operation ran and failed (a transfer,
// a digest, a MUST case), 2 for usage or setup errors, 128+N when ended by
// signal N (130 for Ctrl-C). Run "stickykit help"
// for the list and "stickykit CMD --help" for the flags of one command.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

func main() { os.Exit(Main()) }

// Exit codes shared by every subcommand.
const (
	exitOK    = 0 // success
	exitFail  = 1 // the operation ran and failed (transfer, digest, check)
	exitUsage = 2 // bad usage or setup
)

// env is what a subcommand may touch of the process: its streams and
// arguments. Only main calls os.Exit.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

type command struct {
	name    string
	summary string
	run     func(e *env, args []string) int
}

var commands []command

func init() {
	commands = []command{
		{"serve", "serve the files under a directory", runServe},
		{"get", "download a file and verify its digest", runGet},
		{"naive-get", "download a file the tutorial's way (shows the bug)", runNaiveGet},
		{"proxy", "relay TCP, cutting and joining the byte stream", runProxy},
		{"check", "check a server or client against SPEC.md", runCheck},
		{"bench", "measure transfer speed against the MD5 baseline", runBench},
		{"demo", "show the sticky-packet bug and its fix, with a byte timeline", runDemo},
	}
}

// Main runs the command line in os.Args and returns the exit code.
func Main() int {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}
	return e.main(os.Args[1:])
}

func (e *env) main(args []string) int {
	if len(args) == 0 {
		e.usage(e.stderr)
		return exitUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			return e.main([]string{args[1], "--help"})
		}
		e.usage(e.stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == args[0] {
			return c.run(e, args[1:])
		}
	}
	fmt.Fprintf(e.stderr, "stickykit: unknown command %q\n", args[0])
	e.usage(e.stderr)
	return exitUsage
}

func (e *env) usage(w io.Writer) {
	fmt.Fprintf(w, "stickykit: a conformance kit for a tiny file-transfer exchange, and the sticky-packet lesson.\n\nUsage:\n\n  stickykit <command> [flags] [args]\n\nCommands:\n\n")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun \"stickykit <command> --help\" for a command's flags. SPEC.md defines the exchange.\n")
}

// errorf prints one error line, "stickykit: ...", to stderr.
func (e *env) errorf(format string, args ...any) {
	fmt.Fprintf(e.stderr, "stickykit: "+format+"\n", args...)
}

// exitSignal is the exit status of a command ended by a signal: 128 plus
// its number, as a shell reports it (130 for Ctrl-C).
func exitSignal(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return exitFail
}

// interruptSignals are the signals that end a transfer cleanly: Ctrl-C,
// kill, a closed terminal and Ctrl-\.
var interruptSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

// interruptible returns a context that is cancelled when the process gets
// one of interruptSignals, a function that returns that signal (nil if
// none came), and stop, which restores the signals' default behaviour and
// must be called.
func interruptible(parent context.Context) (ctx context.Context, caught func() os.Signal, stop func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, interruptSignals...)
	var got atomic.Value
	done := make(chan struct{})
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		select {
		case s := <-ch:
			got.Store(s)
			cancel()
		case <-done:
		}
	}()
	caught = func() os.Signal {
		s, _ := got.Load().(os.Signal)
		return s
	}
	stop = func() {
		signal.Stop(ch)
		close(done)
		<-ended
		cancel()
	}
	return ctx, caught, stop
}
