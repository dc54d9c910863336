package conformance_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if any test leaves a goroutine running; tests
// that start goroutines also check on their own with goleak.VerifyNone, so a
// leak is blamed on the right test.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
