package casetest

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/stickykit/stickykit/spec"
)

// InEachFraming runs test as a parallel subtest per framing and checks
// that no goroutine outlives them.
func InEachFraming(t *testing.T, test func(t *testing.T, f spec.Framing)) {
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	for _, f := range spec.Framings {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			test(t, f)
		})
	}
}
