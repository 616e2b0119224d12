package accounts

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// cache holds recently read accounts for GET /v2/account, the one hot read. Authentication and refresh
// never use it: they must see a ban the moment it is written.
//
// Every write through this node invalidates the entry before returning, so a client reads its own writes.
// A fill that raced a write is dropped (the generation check below), and the TTL bounds how long a change
// made elsewhere (another process on the same store) can stay unseen.
type cache struct {
	ttl   time.Duration
	max   int
	clock func() time.Time
	gen   atomic.Uint64 // bumped by every invalidation

	mu      sync.Mutex
	entries map[string]cacheEntry
}

type cacheEntry struct {
	user    *storage.User // never mutated once cached; callers get copies
	expires time.Time
}

func newCache(ttl time.Duration, max int, clock func() time.Time) *cache {
	return &cache{ttl: ttl, max: max, clock: clock, entries: make(map[string]cacheEntry)}
}

// get returns a copy of the cached account, or nil.
func (c *cache) get(id string) *storage.User {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if !ok || !c.clock().Before(e.expires) {
		return nil
	}
	return copyUser(e.user)
}

// generation is read before a store read; put stores the result only if no invalidation happened since.
// A nil cache (caching off) has generation 0.
func (c *cache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

func (c *cache) put(u *storage.User, gen uint64) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return
	}
	if len(c.entries) >= c.max {
		// Evict an arbitrary tenth (map iteration order is random): cheap, and good enough for a cache
		// whose entries live seconds.
		n := c.max/10 + 1
		for k := range c.entries {
			delete(c.entries, k)
			if n--; n == 0 {
				break
			}
		}
	}
	c.entries[u.ID] = cacheEntry{user: copyUser(u), expires: c.clock().Add(c.ttl)}
}

// invalidate drops a user's entry; call it after every write that changes the account.
func (c *cache) invalidate(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	delete(c.entries, id)
	c.mu.Unlock()
}

func copyUser(u *storage.User) *storage.User {
	cp := *u
	cp.Password = nil // never needed by readers of the cache
	cp.Devices = append([]string(nil), u.Devices...)
	return &cp
}
