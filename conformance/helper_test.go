package conformance_test

import "os"

// helperArgs returns the arguments after "--" of this test binary's
// command line when they begin with mark: the test binary then runs as a
// helper process (a client, a server, a run of the kit), not as tests.
func helperArgs(mark string) ([]string, bool) {
	for i, a := range os.Args {
		if a == "--" {
			args := os.Args[i+1:]
			return args, len(args) > 0 && args[0] == mark
		}
	}
	return nil, false
}
