//go:build !race

package bench_test

// raceEnabled says the race detector is on: it multiplies memory use, so
// memory limits are not checked.
const raceEnabled = false
