package bench

import (
	"fmt"
	"strconv"
	"strings"
)

// Binary size units accepted by ParseSize and used by FormatSize.
const (
	KiB int64 = 1 << 10
	MiB int64 = 1 << 20
	GiB int64 = 1 << 30
)

var units = []struct {
	suffix string
	n      int64
}{{"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB}, {"G", GiB}, {"M", MiB}, {"K", KiB}, {"B", 1}}

// ParseSize parses a size such as "1KiB", "64MiB", "1GiB", "512K" or
// "1000" (bytes). Units are binary; case is ignored.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range units {
		if len(t) > len(u.suffix) && strings.EqualFold(t[len(t)-len(u.suffix):], u.suffix) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.n
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("bad size %q (want e.g. 1KiB, 64MiB, 1GiB)", s)
	}
	return n * mult, nil
}

// ParseSizes parses a comma-separated list of sizes.
func ParseSizes(s string) ([]int64, error) {
	var sizes []int64
	for _, f := range strings.Split(s, ",") {
		if strings.TrimSpace(f) == "" {
			continue
		}
		n, err := ParseSize(f)
		if err != nil {
			return nil, err
		}
		sizes = append(sizes, n)
	}
	if len(sizes) == 0 {
		return nil, fmt.Errorf("no sizes in %q", s)
	}
	return sizes, nil
}

// FormatSize writes n in the largest binary unit that divides it, as
// "64MiB"; other sizes are written in bytes, as "1000B".
func FormatSize(n int64) string {
	for _, u := range units[:3] {
		if n >= u.n && n%u.n == 0 {
			return strconv.FormatInt(n/u.n, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
