// Package bench measures the reference implementation of the stickykit
// exchange, for "stickykit bench" (its only user) and for the Go benchmarks
// in this package.
//
// A [Lab] is a temporary directory of seeded files and a reference server
// serving them on loopback; [Lab.Close] removes it. On it:
//
//   - [Lab.Compare] runs, for one file, the programs a user would compare,
//     each as a child process made by [Commands]: the client streaming to a
//     pipe against "md5sum FILE", "stickykit get" against a "dd
//     conv=fsync" copy, cold and warm, with the CPU time of each end.
//     A [Table] of the resulting comparisons ([Comparison]) prints them
//     ([Table.WriteText]) and draws them on log scales ([Table.WriteSVG]).
//   - [Lab.RSS] measures the peak memory of a server and of its clients, and
//     the server's memory per idle connection.
//   - [Lab.Scale] starts many clients at once against one server.
//
// Figures are reported, never asserted: they depend on the machine and on
// what else it runs.
package bench
