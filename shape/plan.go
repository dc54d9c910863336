package shape

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
)

// Plan yields the sizes of successive segments. Next returns a size of at
// least 1; a wrapper treats a smaller value as 1.
//
// A Plan has state: give each wrapper its own. The plans of this package are
// safe for concurrent use, but two wrappers sharing one plan take turns
// drawing from it.
type Plan interface {
	Next() int
}

// Fixed returns a Plan whose every segment is n bytes. It panics unless
// n > 0.
func Fixed(n int) Plan {
	if n <= 0 {
		panic(fmt.Sprintf("shape: Fixed(%d): size must be > 0", n))
	}
	return fixed(n)
}

type fixed int

func (f fixed) Next() int { return int(f) }

// String returns "fixed:N".
func (f fixed) String() string { return "fixed:" + strconv.Itoa(int(f)) }

// Sizes returns a Plan that yields sizes in order, then repeats the last
// one forever. It panics if sizes is empty or holds a size below 1.
func Sizes(sizes ...int) Plan {
	if len(sizes) == 0 {
		panic("shape: Sizes(): need at least one size")
	}
	for _, n := range sizes {
		if n <= 0 {
			panic(fmt.Sprintf("shape: Sizes(%v): every size must be > 0", sizes))
		}
	}
	return &sizesPlan{s: append([]int(nil), sizes...)}
}

type sizesPlan struct {
	mu sync.Mutex
	s  []int
	i  int
}

func (p *sizesPlan) Next() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := p.s[p.i]
	if p.i < len(p.s)-1 {
		p.i++
	}
	return n
}

// String returns "sizes:A,B,...".
func (p *sizesPlan) String() string {
	parts := make([]string, len(p.s))
	for i, n := range p.s {
		parts[i] = strconv.Itoa(n)
	}
	return "sizes:" + strings.Join(parts, ",")
}

// Random returns a Plan of sizes drawn uniformly from [min, max] by a PCG
// source seeded with seed (never the global source), so a seed replays the
// same sizes. It panics unless 1 <= min <= max.
func Random(seed int64, min, max int) Plan {
	if min < 1 || max < min {
		panic(fmt.Sprintf("shape: Random(%d, %d, %d): need 1 <= min <= max", seed, min, max))
	}
	return &randomPlan{
		r:    rand.New(rand.NewPCG(uint64(seed), 0x5eed)),
		seed: seed, min: min, max: max,
	}
}

type randomPlan struct {
	mu       sync.Mutex
	r        *rand.Rand
	seed     int64
	min, max int
}

func (p *randomPlan) Next() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.min + p.r.IntN(p.max-p.min+1)
}

// String returns "random:SEED:MIN:MAX".
func (p *randomPlan) String() string {
	return fmt.Sprintf("random:%d:%d:%d", p.seed, p.min, p.max)
}

// ParsePlan parses the text form of a plan, as the String methods of the
// plans of this package print it:
//
//	fixed:N                  Fixed(N)
//	sizes:A,B,C              Sizes(A, B, C)
//	random:SEED:MIN:MAX      Random(SEED, MIN, MAX)
//
// It returns an error, never panics, for text that does not describe a valid
// plan.
func ParsePlan(s string) (Plan, error) {
	kind, arg, _ := strings.Cut(s, ":")
	bad := func(why string) (Plan, error) {
		return nil, fmt.Errorf("shape: bad plan %q: %s (want fixed:N, sizes:A,B,... or random:SEED:MIN:MAX)", s, why)
	}
	switch kind {
	case "fixed":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 {
			return bad("size must be an integer >= 1")
		}
		return Fixed(n), nil
	case "sizes":
		var ns []int
		for f := range strings.SplitSeq(arg, ",") {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				return bad("every size must be an integer >= 1")
			}
			ns = append(ns, n)
		}
		return Sizes(ns...), nil
	case "random":
		f := strings.Split(arg, ":")
		if len(f) != 3 {
			return bad("random takes SEED:MIN:MAX")
		}
		seed, err1 := strconv.ParseInt(f[0], 10, 64)
		lo, err2 := strconv.Atoi(f[1])
		hi, err3 := strconv.Atoi(f[2])
		if err1 != nil || err2 != nil || err3 != nil || lo < 1 || hi < lo {
			return bad("need integers with 1 <= MIN <= MAX")
		}
		return Random(seed, lo, hi), nil
	}
	return bad("unknown kind")
}

// next draws a segment size from p, at least 1.
func next(p Plan) int {
	return max(p.Next(), 1)
}
