package myserver_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: the
// servers the kit starts for each case end with it.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
