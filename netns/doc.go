// Package netns holds the real-kernel tier of the stickykit tests: a
// reference server and clients in two Linux network namespaces joined by a
// veth pair with a small MTU and a shaped link, so that the bytes cross the
// kernel's own TCP segmentation, not a wrapper that imitates it.
//
// The tier needs root, the ip and tc commands, and the right to create
// network namespaces; anywhere else its tests skip and say why. It has no
// API: everything is in its tests.
//
//	go test -race -v ./netns/
package netns
