package conformance_test

import (
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine running; tests
// that start goroutines also check on their own with goleak.VerifyNone, so a
// leak is blamed on the right test.
//
// Under the race detector a program sleeps a second as it exits, to catch
// the races of goroutines still running; the tests start this binary as a
// client or a server many times, and each exit would cost that second.
// Races are still reported, and still fail the run.
func TestMain(m *testing.M) {
	os.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	goleak.VerifyTestMain(m)
}
