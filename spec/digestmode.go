package spec

import (
	"fmt"
	"strings"
)

// DigestMode says whether an exchange ends with a digest. Both ends must
// agree on it, as on the framing: it is configured, never negotiated.
type DigestMode int

const (
	// DigestMD5 ends every transfer with the 32-digit MD5 of its data
	// (SPEC.md). It is the default.
	DigestMD5 DigestMode = iota
	// DigestNone ends a transfer with its data, as the tutorial's first
	// version did: the client cannot verify what it received (SPEC.md,
	// "The exchange without a digest").
	DigestNone
)

// DigestModes lists every digest mode, in a stable order.
var DigestModes = []DigestMode{DigestMD5, DigestNone}

// String returns "md5" or "none".
func (d DigestMode) String() string {
	switch d {
	case DigestMD5:
		return "md5"
	case DigestNone:
		return "none"
	}
	return fmt.Sprintf("DigestMode(%d)", int(d))
}

// Set parses s as a digest mode; it lets a *DigestMode be a flag.Value.
func (d *DigestMode) Set(s string) error {
	v, err := ParseDigestMode(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// ParseDigestMode returns the digest mode named s ("md5" or "none").
func ParseDigestMode(s string) (DigestMode, error) {
	switch strings.ToLower(s) {
	case "md5":
		return DigestMD5, nil
	case "none":
		return DigestNone, nil
	}
	return 0, fmt.Errorf("spec: unknown digest %q (want md5 or none)", s)
}
