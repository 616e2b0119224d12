// Package limits provides abuse limits: token-bucket rate limiters and failed-login lockouts keyed by
// client address or account in memory-bounded tables, admission to costly work that is fair between
// clients, and the client address behind trusted proxies that they are keyed by.
package limits

import (
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Config configures a Limiter.
type Config struct {
	// Rate is how many requests per second a key may make on average; 0 disables the limiter.
	Rate float64
	// Burst is how many requests a key may make at once, the bucket's size; at least 1.
	Burst int
	// MaxKeys bounds the keys tracked; beyond it the least recently seen key is forgotten, which only ever
	// gives that key a full bucket again.
	MaxKeys int
	// Clock returns the current time; time.Now when nil.
	Clock func() time.Time
}

// Limiter holds one token bucket per key, safe for concurrent use. A nil *Limiter allows everything.
type Limiter struct {
	limit rate.Limit
	burst int
	clock func() time.Time

	mu      sync.Mutex
	buckets *lru[*rate.Limiter]
}

// NewLimiter returns a Limiter, or nil (which allows everything) when c.Rate is not positive.
func NewLimiter(c Config) *Limiter {
	if c.Rate <= 0 {
		return nil
	}
	l := &Limiter{limit: rate.Limit(c.Rate), burst: max(1, c.Burst), clock: c.Clock, buckets: newLRU[*rate.Limiter](max(1, c.MaxKeys))}
	if l.clock == nil {
		l.clock = time.Now
	}
	return l
}

// Allow takes a token from key's bucket. When the bucket is empty it takes nothing and returns how long
// until a token is available.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets.get(key)
	if b == nil {
		b = l.buckets.add(key)
		*b = rate.NewLimiter(l.limit, l.burst)
	}
	if (*b).AllowN(now, 1) {
		return true, 0
	}
	missing := 1 - (*b).TokensAt(now)
	return false, time.Duration(missing / float64(l.limit) * float64(time.Second))
}

// Len returns how many keys are tracked.
func (l *Limiter) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buckets.len()
}

// RetryError is a refusal that the client may retry after a delay: its Err says why (a sentinel the wire
// table maps), After how long to wait.
type RetryError struct {
	Err   error
	After time.Duration
}

func (e *RetryError) Error() string { return e.Err.Error() + " (retry after " + e.After.String() + ")" }
func (e *RetryError) Unwrap() error { return e.Err }

// RetryAfterSeconds is After in whole seconds for a Retry-After header, rounded up and at least 1.
func (e *RetryError) RetryAfterSeconds() int64 {
	return max(1, int64(math.Ceil(e.After.Seconds())))
}
