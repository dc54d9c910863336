// Package seeded makes deterministic pseudo-random content: the same seed
// gives the same bytes on every run, on every machine, so a fixture, a test
// file or the demo's file can be named by its seed and made again.
//
// The stream of a seed is defined, so that it can be reproduced: it is what
// math/rand/v2's ChaCha8 generator reads when its 32-byte seed is the seed
// as 8 little-endian bytes followed by 24 zero bytes. [Bytes] returns the
// start of the stream, and [NewReader] streams it without holding it in
// memory, fast enough for files of gigabytes. [Seed] turns a readable label
// ("server/sizes 1025-bytes.bin") into a seed.
//
// Anyone who knows the seed knows the content: it is for files whose bytes
// must differ from file to file and be the same from run to run, never for
// secrets.
package seeded

import (
	"encoding/binary"
	"hash/fnv"
	"io"
	"math/rand/v2"
)

// Seed returns the seed of a label: its 64-bit FNV-1a hash.
func Seed(label string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(label))
	return h.Sum64()
}

// Bytes returns the first n bytes of the stream of seed; n < 0 counts as 0.
func Bytes(seed uint64, n int64) []byte {
	b := make([]byte, max(n, 0))
	source(seed).Read(b)
	return b
}

// NewReader returns a Reader of the first n bytes of the stream of seed:
// what Bytes(seed, n) returns, read without holding it in memory. After n
// bytes it returns io.EOF.
func NewReader(seed uint64, n int64) io.Reader {
	return io.LimitReader(source(seed), max(n, 0))
}

// source returns the generator of the stream of seed.
func source(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return rand.NewChaCha8(key)
}
