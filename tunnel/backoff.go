package tunnel

import (
	"math/rand/v2"
	"time"
)

// backoff is a capped exponential backoff with full jitter: the n-th delay is
// uniform in [0, min(max, initial*2^n)]. Not safe for concurrent use: the
// supervisor goroutine owns it.
type backoff struct {
	initial, max time.Duration
	n            int
	rand         func(n int64) int64 // uniform in [0, n); nil = math/rand/v2
}

func (b *backoff) ceiling() time.Duration {
	initial, max := b.initial, b.max
	if initial <= 0 {
		initial = time.Second
	}
	if max < initial {
		max = initial
	}
	d := initial
	for i := 0; i < b.n && d < max; i++ {
		d *= 2
	}
	return min(d, max)
}

// next returns the next delay and advances.
func (b *backoff) next() time.Duration {
	c := b.ceiling()
	b.n++
	r := b.rand
	if r == nil {
		r = rand.Int64N
	}
	return time.Duration(r(int64(c) + 1))
}

func (b *backoff) reset() { b.n = 0 }
