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
//
// Reads take no lock: every request of every core reads the cache, and a lock's state would be written
// by each of them (see sessions.Denylist). Writers (fills, invalidations, evictions) are serialized by
// mu, which also keeps the generation check of a fill and the bump of an invalidation apart.
type cache struct {
	ttl   time.Duration
	max   int
	clock func() time.Time
	gen   atomic.Uint64 // bumped by every invalidation

	entries sync.Map   // user id (string) -> *cacheEntry
	mu      sync.Mutex // held by writers
	n       int        // entries, under mu
}

type cacheEntry struct {
	user    *storage.User // never changed once cached; Account returns copies
	expires time.Time
	view    atomic.Pointer[rendered] // the account as a View renders it, once per entry
}

// rendered is an account's rendering by one View.
type rendered struct {
	view *View
	b    []byte
}

func newCache(ttl time.Duration, max int, clock func() time.Time) *cache {
	return &cache{ttl: ttl, max: max, clock: clock}
}

// get returns the live entry of the account, or nil.
func (c *cache) get(id string) *cacheEntry {
	if c == nil {
		return nil
	}
	v, ok := c.entries.Load(id)
	if !ok {
		return nil
	}
	e := v.(*cacheEntry)
	if !c.clock().Before(e.expires) {
		return nil
	}
	return e
}

// generation is read before a store read; put stores the result only if no invalidation happened since.
// A nil cache (caching off) has generation 0.
func (c *cache) generation() uint64 {
	if c == nil {
		return 0
	}
	return c.gen.Load()
}

// put caches a copy of u and returns its entry, or nil when it was not cached: caching is off, or an
// invalidation happened since gen.
func (c *cache) put(u *storage.User, gen uint64) *cacheEntry {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen.Load() != gen {
		return nil
	}
	if c.n >= c.max {
		// Evict an arbitrary tenth (the order of the trie's hashes): cheap, and good enough for a cache
		// whose entries live seconds.
		n := c.max/10 + 1
		c.entries.Range(func(k, _ any) bool {
			c.entries.Delete(k)
			c.n--
			n--
			return n > 0
		})
	}
	e := &cacheEntry{user: copyUser(u), expires: c.clock().Add(c.ttl)}
	if _, replaced := c.entries.Swap(u.ID, e); !replaced {
		c.n++
	}
	return e
}

// invalidate drops a user's entry; call it after every write that changes the account.
func (c *cache) invalidate(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.gen.Add(1)
	if _, ok := c.entries.LoadAndDelete(id); ok {
		c.n--
	}
	c.mu.Unlock()
}

// len returns the number of entries, live or expired.
func (c *cache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// render returns the entry's account rendered by v, rendering it on the first call with v: every later
// read shares the bytes until the entry is dropped or expires. Two reads may render at once; either
// result is kept, since both come from the same account.
func (e *cacheEntry) render(v *View) ([]byte, error) {
	if r := e.view.Load(); r != nil && r.view == v {
		return r.b, nil
	}
	b, err := v.render(copyUser(e.user))
	if err != nil {
		return nil, err
	}
	e.view.Store(&rendered{view: v, b: b})
	return b, nil
}

func copyUser(u *storage.User) *storage.User {
	cp := *u
	cp.Password = nil // never needed by readers of the cache
	cp.Devices = append([]string(nil), u.Devices...)
	return &cp
}
