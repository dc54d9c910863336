// Package interop holds no code of its own. Its tests run the kit on
// programs as their users have them, each a command the kit starts:
// stickykit get, built from this module, and the tutorial-style Python
// peers of testdata/python. They show that recording a client's reads
// (check client --reads) changes no verdict.
//
// The tests run in a network namespace of their own where the kernel
// allows it (as root): the interactive peer's server address is written
// into it, and two runs of the tests on one machine must not meet there.
package interop
