package mutants_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/internal/testenv"
)

// TestMain fails the package if any test leaves a goroutine running; tests
// that start goroutines also check on their own with goleak.VerifyNone, so a
// leak is blamed on the right test.
// The programs the tests start (this binary, as a user's failing test)
// run without what wraps them on this machine (internal/testenv).
func TestMain(m *testing.M) {
	undo := testenv.Prepare()
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) { undo(); os.Exit(code) }))
}
