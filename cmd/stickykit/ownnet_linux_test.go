package main

import (
	"net"
	"os"
	"testing"

	"github.com/stickykit/stickykit/internal/testenv"
)

// TestOwnNetwork checks that, as root, the tests run in a network
// namespace that is not the host's, with its loopback up.
func TestOwnNetwork(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: the tests run on the host's loopback")
	}
	host := os.Getenv(testenv.OwnNetworkEnv)
	if host == "" {
		t.Skip("the kernel gave this process no network namespace: the tests run on the host's loopback")
	}
	self, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	if self == host {
		t.Fatalf("the tests run in the host's network namespace %s", host)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("loopback in the tests' own namespace: %v", err)
	}
	ln.Close()
}
