package conformance

import (
	"strings"
	"testing"
)

// TestCount checks that counts in details agree with their nouns.
func TestCount(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{{0, "0 bytes"}, {1, "1 byte"}, {2, "2 bytes"}, {70001, "70001 bytes"}} {
		if got := count(tt.n, "byte"); got != tt.want {
			t.Errorf("count(%d, \"byte\") = %q, want %q", tt.n, got, tt.want)
		}
	}
	// A detail with a count of one says so in the singular.
	data := []byte("0123456789")
	sum := digestOf(data)
	out := output{at: "{out}", exists: true, kind: "file", size: 11, data: append(append([]byte{}, data...), sum[0])}
	if f := describeOutput(out, data, nil); !strings.Contains(f.Words, "is 1 byte longer than the file") {
		t.Errorf("describeOutput(one digest byte more) = %q, want \"1 byte longer\"", f.Words)
	}
	out = output{at: "the output file", exists: true, kind: "file", size: 1, data: []byte("x")}
	if f := describeOutput(out, []byte("y"), nil); !strings.Contains(f.Words, "the right length (1 byte)") {
		t.Errorf("describeOutput(one wrong byte) = %q, want \"(1 byte)\"", f.Words)
	}
}
