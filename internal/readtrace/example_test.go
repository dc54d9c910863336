package readtrace_test

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/stickykit/stickykit/internal/readtrace"
	"github.com/stickykit/stickykit/spec"
)

// A client's reads of a 3,000-byte file, as strace -f -yy wrote them: the
// read that took the file's tail and the digest together is named.
func ExampleClassify() {
	trace := `4242  recvfrom(3<TCP:[127.0.0.1:40000->127.0.0.1:8888]>, ""..., 1024, 0, NULL, NULL) = 4
4242  read(4</usr/lib/python3.11/os.py>, ""..., 4096) = 4096
4242  recvfrom(3<TCP:[127.0.0.1:40000->127.0.0.1:8888]>, ""..., 1024, 0, NULL, NULL) = 1024
4242  recvfrom(3<TCP:[127.0.0.1:40000->127.0.0.1:8888]>, ""..., 1024, 0, NULL, NULL) = 1024
4242  recvfrom(3<TCP:[127.0.0.1:40000->127.0.0.1:8888]>,  <unfinished ...>
4243  futex(0x7f0000000000, FUTEX_WAKE_PRIVATE, 1) = 0
4242  <... recvfrom resumed>""..., 1024, 0, NULL, NULL) = 984
`
	tr, err := readtrace.Parse(strings.NewReader(trace))
	if err != nil {
		fmt.Println(err)
		return
	}
	// The kit listened on 127.0.0.1:8888 and accepted 127.0.0.1:40000.
	c := readtrace.Conn{Local: netip.MustParseAddrPort("127.0.0.1:40000"), Peer: netip.MustParseAddrPort("127.0.0.1:8888")}
	for _, f := range readtrace.Classify(tr.Stream(c), readtrace.ExchangeLayout(spec.Lockstep, 3000)) {
		fmt.Println(f.Kind)
		fmt.Println(f.Words())
	}
	// Output:
	// sticky
	// read 3 after the size asked for 1024 bytes and got 984: the last 952 bytes of the file and 32 bytes of the digest
}
