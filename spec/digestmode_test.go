package spec_test

import (
	"testing"

	"github.com/stickykit/stickykit/spec"
)

func TestParseDigestMode(t *testing.T) {
	for _, d := range spec.DigestModes {
		got, err := spec.ParseDigestMode(d.String())
		if got != d || err != nil {
			t.Errorf("spec.ParseDigestMode(%q) = %v, %v; want %v, nil", d, got, err, d)
		}
	}
	var d spec.DigestMode
	if err := d.Set("NONE"); err != nil || d != spec.DigestNone {
		t.Errorf("Set(\"NONE\") = %v, leaves %v; want nil, none", err, d)
	}
	if _, err := spec.ParseDigestMode("sha256"); err == nil {
		t.Errorf("spec.ParseDigestMode(\"sha256\") = nil error, want one")
	}
}
