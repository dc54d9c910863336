//go:build !linux

package ref_test

// serveHelperEnv names the server helper of the crowd tests, which run on
// Linux only.
const serveHelperEnv = "STICKYKIT_REF_SERVE_HELPER"

func runServeHelper() int { return 2 }

// getsHelperEnv names the client helper of the crowd tests.
const getsHelperEnv = "STICKYKIT_REF_GETS_HELPER"

func runGetsHelper() int { return 2 }
