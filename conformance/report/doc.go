// Package report presents the results of a conformance run
// (package github.com/stickykit/stickykit/conformance) for people and for
// CI: a table for a terminal ([WriteTable], with colours when asked), a
// JSON document ([WriteJSON]), JUnit XML ([WriteJUnit]), a comparison with
// a baseline of expected verdicts ([ReadBaseline], [Baseline.Diff]), and
// the exit status a run deserves ([ExitCode]).
//
// How each verdict is shown, counted and weighed (its colour, its JUnit
// element, whether it fails a run) is one table in this package, so a new
// verdict is one row there.
package report
