package seeded_test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/stickykit/stickykit/internal/seeded"
)

// TestBytesDefinition checks the stream against its definition in the
// package comment, for several seeds and lengths.
func TestBytesDefinition(t *testing.T) {
	for _, seed := range []uint64{0, 1, 3, 1 << 63} {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], seed)
		want := make([]byte, 5000)
		rand.NewChaCha8(key).Read(want)
		for _, n := range []int64{0, 1, 7, 4999, 5000} {
			if got := seeded.Bytes(seed, n); !bytes.Equal(got, want[:n]) {
				t.Errorf("Bytes(%d, %d) differs from the definition", seed, n)
			}
		}
	}
}

// TestBytesPinned pins the start of two streams, so that a change to the
// generator (which would change every fixture, lesson and golden file)
// cannot pass unnoticed.
func TestBytesPinned(t *testing.T) {
	if got, want := hex.EncodeToString(seeded.Bytes(1, 8)), "6ae6783f4fbde91b"; got != want {
		t.Errorf("Bytes(1, 8) = %s, want %s", got, want)
	}
	if got, want := seeded.Seed("stickykit"), uint64(0x13e5dbf06e805dfe); got != want {
		t.Errorf("Seed(%q) = %#x, want %#x", "stickykit", got, want)
	}
}

func TestBytesNegative(t *testing.T) {
	if got := seeded.Bytes(1, -5); len(got) != 0 {
		t.Errorf("Bytes(1, -5) = %d bytes, want 0", len(got))
	}
}

// TestReader checks that the streaming form reads exactly the bytes of
// Bytes, whatever the sizes of the reads.
func TestReader(t *testing.T) {
	const n = 70001
	want := seeded.Bytes(42, n)
	if err := iotest.TestReader(seeded.NewReader(42, n), want); err != nil {
		t.Errorf("NewReader(42, %d): %v", n, err)
	}
	got, err := io.ReadAll(iotest.OneByteReader(seeded.NewReader(42, n)))
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("NewReader(42, %d) read one byte at a time = %d bytes, %v; want the %d bytes of Bytes", n, len(got), err, n)
	}
	if got, _ := io.ReadAll(seeded.NewReader(42, -1)); len(got) != 0 {
		t.Errorf("NewReader(42, -1) gave %d bytes, want 0", len(got))
	}
}

func TestSeedsDiffer(t *testing.T) {
	a, b := seeded.Bytes(seeded.Seed("a"), 64), seeded.Bytes(seeded.Seed("b"), 64)
	if bytes.Equal(a, b) {
		t.Errorf("the streams of labels a and b are equal")
	}
}

func BenchmarkBytes(b *testing.B) {
	b.SetBytes(1 << 20)
	for b.Loop() {
		seeded.Bytes(1, 1<<20)
	}
}
