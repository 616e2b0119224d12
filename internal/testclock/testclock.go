// Package testclock provides a settable clock for tests. The code under test takes its time from a
// func() time.Time (Clock.Now), and tests move time with Advance instead of sleeping.
package testclock

import (
	"sync"
	"time"
)

// Clock is a clock that stands still until Advance moves it, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock reading t.
func New(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
