package spec_test

import (
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/stickykit/stickykit/spec"
)

// ExampleReader decodes, as a client would, everything a server sent in
// answer to two requests in the line framing: a file of 5 bytes with its
// digest, then an error reply.
func ExampleReader() {
	wire := "5\n" + "hello" + "5d41402abc4b2a76b9719d911017c592" +
		"ERR not-found no such file\n"
	r := spec.NewReader(strings.NewReader(wire), spec.Line)

	for {
		size, err := r.ReadReply()
		var refused *spec.ErrorReply
		switch {
		case errors.As(err, &refused):
			fmt.Printf("refused: %s (%s)\n", refused.Code, refused.Text)
			continue
		case errors.Is(err, io.ErrUnexpectedEOF):
			fmt.Println("server closed the connection")
			return
		case err != nil:
			fmt.Println("error:", err)
			return
		}
		h := md5.New()
		body := new(strings.Builder)
		if _, err := io.Copy(io.MultiWriter(h, body), r.Body(size)); err != nil {
			fmt.Println("error:", err)
			return
		}
		digest, err := r.ReadDigest()
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Printf("%d bytes %q, digest matches: %v\n", size, body, digest == hex.EncodeToString(h.Sum(nil)))
	}
	// Output:
	// 5 bytes "hello", digest matches: true
	// refused: not-found (no such file)
	// server closed the connection
}

// ExampleEncodeRequest shows a request in both framings, and a name that
// cannot be sent.
func ExampleEncodeRequest() {
	for _, f := range spec.Framings {
		b, err := spec.EncodeRequest(f, "my video.mp4")
		fmt.Printf("%s: %q %v\n", f, b, err)
	}
	_, err := spec.EncodeRequest(spec.Line, "two\nlines")
	fmt.Println(err)
	// Output:
	// lockstep: "get my video.mp4" <nil>
	// line: "get my video.mp4\n" <nil>
	// spec: malformed request: line break at offset 3 of the name (got "two\nlines")
}

// ExampleParseReply tells a size from an error reply.
func ExampleParseReply() {
	for _, in := range []string{"83886080", "ERR forbidden outside the root", "-1"} {
		size, err := spec.ParseReply([]byte(in))
		var refused *spec.ErrorReply
		var malformed *spec.ProtocolError
		switch {
		case errors.As(err, &refused):
			fmt.Println("refused with code", refused.Code)
		case errors.As(err, &malformed):
			fmt.Println("malformed:", malformed.Reason)
		default:
			fmt.Println("size", size)
		}
	}
	// Output:
	// size 83886080
	// refused with code forbidden
	// malformed: byte 0 of the size is not a decimal digit
}
