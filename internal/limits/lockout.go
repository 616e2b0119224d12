package limits

import (
	"sync"
	"time"
)

// LockoutConfig configures a Lockout.
type LockoutConfig struct {
	// Failures is how many failures in a row start a lockout; 0 disables the lockout.
	Failures int
	// Window is how long a failure is remembered: a failure more than Window after the key's previous one
	// starts the count afresh.
	Window time.Duration
	// Min is the first lockout; each further failure doubles it, up to Max.
	Min, Max time.Duration
	// MaxKeys bounds the keys tracked; beyond it the least recently failed key is forgotten.
	MaxKeys int
	// Clock returns the current time; time.Now when nil.
	Clock func() time.Time
}

// Lockout counts failures per key (an account) and locks a key out for a growing time once it has failed
// too often, safe for concurrent use. Callers ask Locked before the costly check, so that attempts on a
// locked key cost nothing. A nil *Lockout never locks.
type Lockout struct {
	cfg LockoutConfig

	mu   sync.Mutex
	keys *lru[lockState]
}

type lockState struct {
	failures int       // in a row, each within Window of the one before
	last     time.Time // the latest failure
	until    time.Time // locked before this time
}

// NewLockout returns a Lockout, or nil (which never locks) when c.Failures is not positive.
func NewLockout(c LockoutConfig) *Lockout {
	if c.Failures <= 0 {
		return nil
	}
	c.Min = max(c.Min, time.Millisecond)
	c.Max = max(c.Max, c.Min)
	if c.Clock == nil {
		c.Clock = time.Now
	}
	return &Lockout{cfg: c, keys: newLRU[lockState](max(1, c.MaxKeys))}
}

// Locked returns how long key stays locked, or 0.
func (l *Lockout) Locked(key string) time.Duration {
	if l == nil {
		return 0
	}
	now := l.cfg.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if s := l.keys.get(key); s != nil && now.Before(s.until) {
		return s.until.Sub(now)
	}
	return 0
}

// Fail records a failure for key. When it starts a lockout (the key was not locked), it returns the
// lockout's length; otherwise 0. A failure while locked (an attempt that was already under way when the
// lockout started) still counts and lengthens the lockout.
func (l *Lockout) Fail(key string) (started time.Duration) {
	if l == nil {
		return 0
	}
	now := l.cfg.Clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.keys.get(key)
	if s == nil {
		s = l.keys.add(key)
	}
	if !s.last.IsZero() && now.Sub(s.last) > l.cfg.Window {
		*s = lockState{}
	}
	s.failures++
	s.last = now
	if s.failures < l.cfg.Failures {
		return 0
	}
	d := l.lockFor(s.failures - l.cfg.Failures)
	wasLocked := now.Before(s.until)
	if until := now.Add(d); until.After(s.until) {
		s.until = until
	}
	if wasLocked {
		return 0
	}
	return d
}

// lockFor is the lockout after n failures past the threshold: Min doubled n times, at most Max.
func (l *Lockout) lockFor(n int) time.Duration {
	d := l.cfg.Min
	for range n {
		if d >= l.cfg.Max/2 {
			return l.cfg.Max
		}
		d *= 2
	}
	return min(d, l.cfg.Max)
}

// Succeed forgets key's failures, after a success.
func (l *Lockout) Succeed(key string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.keys.remove(key)
}

// Len returns how many keys are tracked.
func (l *Lockout) Len() int {
	if l == nil {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.keys.len()
}
