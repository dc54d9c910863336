package demo_test

import (
	"context"
	"fmt"

	"github.com/stickykit/stickykit/internal/demo"
	"github.com/stickykit/stickykit/internal/timeline"
	"github.com/stickykit/stickykit/spec"
)

// The naive client under the sticky delivery: its 98th read after the size
// takes the file's last 672 bytes and the whole digest, as SPEC.md
// Appendix A says.
func ExampleRun() {
	out, err := demo.Run(context.Background(), demo.DefaultConfig(), []demo.Case{
		{Client: demo.NaiveClient, Delivery: demo.Sticky, Framing: spec.Lockstep},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	o := out[0]
	fmt.Printf("%s: %s, wrote %d of %d bytes\n", o.Case, o.Verdict, o.Written, o.Size)
	tl := timeline.NewLayout(o.Trace)
	m := tl.Mark
	fmt.Printf("read %d after the size: bytes %d-%d\n", m.Index, m.Off-tl.Base, m.End-tl.Base-1)
	for _, p := range m.Parts {
		fmt.Printf("  %d bytes of %s\n", p.Len(), p.Region.Name)
	}
	// Output:
	// naive/sticky: wrong, wrote 100032 of 100000 bytes
	// read 98 after the size: bytes 99328-100031
	//   672 bytes of data
	//   32 bytes of digest
}
