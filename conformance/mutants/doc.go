// Package mutants holds no code of its own: its tests prove each case of
// package conformance with a broken server or client (a mutant) that the
// case catches, and check that the healthy mutant passes every case.
package mutants
