package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"

	"github.com/stickykit/stickykit/conformance"
	"github.com/stickykit/stickykit/conformance/report"
	"github.com/stickykit/stickykit/spec"
)

// The targets of "stickykit check": a running server (--addr, --root), a
// server the kit starts for every case (-- CMD ARG...), or a client
// command as it is (--listen, --stdin, --collect, --ignore-status); the
// preflight that names the user's mistakes before any case runs.

// exitInterrupted is the exit status of a check ended by Ctrl-C: 128 plus
// SIGINT, as a shell reports it.
const exitInterrupted = 130

// targetOptions are the flags that describe the implementation under test
// beyond its address and root.
type targetOptions struct {
	digest       spec.DigestMode
	listen       string
	stdin        string
	collect      string
	ignoreStatus bool
}

// targetFlags registers the flags of targetOptions on fs.
func (c *checkRun) targetFlags(fs *flag.FlagSet) {
	fs.Var(&c.opts.digest, "digest", "`digest` the implementation sends or expects after the data: md5, or none (the tutorial's first version; the cases about the digest are SKIP)")
	fs.StringVar(&c.opts.listen, "listen", "", "check client: the kit's servers listen on this loopback `address` (host:port), for a client whose address is written into it")
	fs.StringVar(&c.opts.stdin, "stdin", "", "check client: write `TEXT` to the client's stdin, then close it; placeholders and \\n allowed (e.g. 'get {name}\\n')")
	fs.StringVar(&c.opts.collect, "collect", "", "check client: the client's output is the file `PATTERN` in its working directory, placeholders allowed (e.g. '{name}.new'), judged as {out} is")
	fs.BoolVar(&c.opts.ignoreStatus, "ignore-status", false, "check client: the client's exit status carries no verdict (for clients that end the same way every time): the output and the wire decide")
}

// validateServer checks the flags of check server: a running server
// (--addr and --root), or a command the kit starts for every case (after
// "--"; --addr says where it listens unless it takes {port} or {addr}).
func (c *checkRun) validateServer(e *env, fs *flag.FlagSet, dashdash bool) int {
	set := setFlags(fs)
	for _, name := range []string{"listen", "stdin", "collect", "ignore-status"} {
		if set[name] {
			return e.usageErr(fs, "--%s is for check client", name)
		}
	}
	if c.root != "" {
		if fi, err := os.Stat(c.root); err != nil {
			return e.usageErr(fs, "--root: %v", err)
		} else if !fi.IsDir() {
			return e.usageErr(fs, "--root %s is not a directory", c.root)
		}
	}
	if !dashdash {
		if c.addr == "" {
			return e.usageErr(fs, "check server needs --addr ADDR (and --root DIR when the kit can write the directory the server serves), or the server's command after \"--\"")
		}
		c.target = c.addr
		if c.root == "" {
			return c.validateRemote(e)
		}
		return exitOK
	}
	if len(c.command) == 0 || c.command[0] == "" {
		return e.usageErr(fs, "check server needs the server's command after \"--\"")
	}
	c.command[0] = absCommand(c.command[0])
	if !strings.Contains(strings.Join(c.command, " "), "{port}") && !strings.Contains(strings.Join(c.command, " "), "{addr}") && c.addr == "" {
		return e.usageErr(fs, "the server's command takes no {port} or {addr}: say where it listens with --addr ADDR")
	}
	if c.addr != "" {
		if err := checkLoopback(c.addr); err != nil {
			return e.usageErr(fs, "--addr: %v", err)
		}
	}
	c.target = report.CommandLine(c.command)
	return exitOK
}

// validateClient checks the flags of check client.
func (c *checkRun) validateClient(e *env, fs *flag.FlagSet) int {
	if c.opts.listen != "" {
		if err := checkLoopback(c.opts.listen); err != nil {
			return e.usageErr(fs, "--listen: %v", err)
		}
	}
	if p := c.opts.collect; p != "" && !filepath.IsLocal(strings.NewReplacer("{name}", "n", "{out}", "o").Replace(p)) {
		return e.usageErr(fs, "--collect %q: want a file name in the client's working directory", p)
	}
	c.opts.stdin = unescape(c.opts.stdin)
	c.command[0] = absCommand(c.command[0])
	return exitOK
}

// setFlags returns the names of the flags set on the command line.
func setFlags(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// checkLoopback checks that addr is host:port on loopback: the kit talks
// to nothing else.
func checkLoopback(addr string) error {
	t := conformance.ClientTarget{Listen: addr}
	return t.CheckListen()
}

// absCommand returns a command's program as the kit will run it: a
// relative path with a separator ("./client.py") made absolute, since the
// program runs in a directory of the kit's choosing; a bare name is looked
// up in PATH as it is.
func absCommand(argv0 string) string {
	if strings.ContainsRune(argv0, filepath.Separator) && !filepath.IsAbs(argv0) {
		if abs, err := filepath.Abs(argv0); err == nil {
			return abs
		}
	}
	return argv0
}

// unescape turns the escapes of --stdin into bytes: \n, \t, \\.
func unescape(s string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\\`, `\`).Replace(s)
}

// serverTarget returns the server under test.
func (c *checkRun) serverTarget() conformance.ServerTarget {
	return conformance.ServerTarget{Addr: c.addr, Root: c.root, Framing: c.framing, Digest: c.opts.digest, Command: c.command, Files: c.files,
		Reads: c.recording()}
}

// clientTarget returns the client under test.
func (c *checkRun) clientTarget() conformance.ClientTarget {
	return conformance.ClientTarget{Framing: c.framing, Digest: c.opts.digest, Command: c.command,
		Listen: c.opts.listen, Stdin: c.opts.stdin, Collect: c.opts.collect, IgnoreStatus: c.opts.ignoreStatus, Reads: c.recording()}
}

// preflight checks, before any case runs, that the target is described
// right (conformance.PreflightServer, PreflightClient). A mistake is one
// line on stderr and exit status 2; an interrupt, 130.
func (c *checkRun) preflight(ctx context.Context, e *env) (int, bool) {
	o := conformance.Options{Timeout: c.timeout}
	var err error
	if c.role == conformance.RoleServer {
		err = conformance.PreflightServer(ctx, c.serverTarget(), o)
	} else {
		err = conformance.PreflightClient(ctx, c.clientTarget(), o)
	}
	var se *conformance.SetupError
	switch {
	case err == nil:
		return exitOK, true
	case ctx.Err() != nil:
		e.errorf("check: interrupted")
		return exitInterrupted, false
	case errors.As(err, &se):
		e.errorf("check %s: %v", c.role, se)
		return exitUsage, false
	}
	e.errorf("check %s: %v", c.role, err)
	return exitUsage, false
}
