// Package casetest holds what the tests of package conformance and of
// package conformance/mutants share: the checks every result of a case
// must meet, the verdicts the reference server and client earn, and the
// files and framings the tests run in. It is meant for tests only.
package casetest
