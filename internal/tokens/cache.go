package tokens

import (
	"hash/maphash"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
)

// Bounds of a keyring's verified-token cache.
const (
	// cacheSlots is how many verified tokens a keyring remembers at most: a power of two, and a multiple
	// of cacheWays.
	cacheSlots = 1 << 16
	// cacheWays is how many tokens share a set: the tokens whose hashes pick the same set compete for
	// its ways. With eight, fewer than 1% of the tokens find their set full while the cache is half full.
	cacheWays = 8
	// cacheBudget bounds the heap the cached tokens hold, as entryCost estimates it.
	cacheBudget = 64 << 20
	// cacheMaxToken is the longest token the cache keeps. A session token without variables is about
	// 350 bytes (500 with a 128-character username); longer ones are verified every time.
	cacheMaxToken = 4 << 10
)

// verifiedCache remembers the claims of tokens its keyring has verified, keyed by the exact token text,
// so that a token presented again (every request of a session carries the same one) costs a hash and a
// comparison instead of an HMAC and a parse.
//
// It holds at most cacheSlots tokens and cacheBudget bytes of them: a typical session token takes about
// 0.7 KiB (the entry, the token's copy and its decoded payload; more with variables), so a cache full of
// them holds some 45 MiB, and tokens fat with variables cannot make it hold more than 64 MiB (but for one
// entry per insert racing past the check); the table itself, 1 MiB, is allocated when the first token is
// cached. TestCacheMemory checks entryCost against
// the heap an entry really holds.
//
// It is a set-associative table: a hash of the token, with a per-cache random seed, picks a set of
// cacheWays slots, each an atomic pointer to an immutable entry beside the entry's hash. A lookup scans
// the set's hashes, takes no lock and writes no shared memory, so concurrent hits on any number of cores
// do not contend. An insert takes, in O(1), an empty or expired slot of the set, or else a random one.
// The seed keeps anyone who holds tokens from choosing which set they land in (to evict someone else's),
// and a lookup compares the token text only after the full 64-bit hash matched, so the time a forged
// token takes says nothing about the cached tokens it resembles.
//
// A hit is exactly what verifying again would return: the keyring's keys never change, and the only
// input besides the token is the time, which a hit checks against the cached expiry. Revocation is not
// its business: callers check their denylist after Verify, hit or not.
type verifiedCache struct {
	seed   maphash.Seed
	sets   int   // a power of two
	budget int64 // bytes, as entryCost counts them
	bytes  atomic.Int64
	once   sync.Once
	table  atomic.Pointer[[]cacheSet]
}

// cacheSet is one set of the table. An entry is the truth and its hash in hashes only a hint for the
// scan: the two are stored one after the other, so a lookup may see them disagree, which makes it miss.
type cacheSet struct {
	hashes  [cacheWays]atomic.Uint64
	entries [cacheWays]atomic.Pointer[verifiedToken]
}

// verifiedToken is one cache entry. It is never modified once published.
type verifiedToken struct {
	hash   uint64
	cost   int64 // entryCost
	token  string
	claims Claims
}

// newVerifiedCache returns an empty cache of slots tokens (a power of two, at least cacheWays) and budget
// bytes.
func newVerifiedCache(slots int, budget int64) *verifiedCache {
	return &verifiedCache{seed: maphash.MakeSeed(), sets: slots / cacheWays, budget: budget}
}

// entryCost estimates, from above, the heap a cache entry holds: itself (144 bytes), the token's copy and
// the decoded payload the claims' strings are cut from (at most three quarters of the token; twice the
// token covers both with the allocator's rounding), and the vars map.
func entryCost(token string, c *Claims) int64 {
	n := 144 + 2*len(token)
	if c.Vars != nil {
		n += 320 + 80*len(c.Vars)
	}
	return int64(n)
}

// lookup returns the entry for token, or nil, and the hash that insert takes. It does not allocate.
func (c *verifiedCache) lookup(token string) (uint64, *verifiedToken) {
	if len(token) > cacheMaxToken {
		return 0, nil
	}
	h := maphash.String(c.seed, token)
	t := c.table.Load()
	if t == nil {
		return h, nil
	}
	s := &(*t)[h&uint64(c.sets-1)]
	for i := range s.hashes {
		if s.hashes[i].Load() != h {
			continue
		}
		if e := s.entries[i].Load(); e != nil && e.hash == h && e.token == token {
			return h, e
		}
	}
	return h, nil
}

// insert caches the claims of a token that verified at now, with h from lookup. It gives up, leaving the
// cache as it was, when the budget is spent or another insert took the same slot first.
func (c *verifiedCache) insert(h uint64, token string, claims Claims, now int64) {
	if len(token) > cacheMaxToken {
		return
	}
	t := c.table.Load()
	if t == nil {
		c.once.Do(func() {
			t := make([]cacheSet, c.sets)
			c.table.Store(&t)
		})
		t = c.table.Load()
	}
	s := &(*t)[h&uint64(c.sets-1)]
	i := -1
	var old *verifiedToken
	for j := range s.entries {
		// A slot holding this very token is one that a concurrent miss of it just filled.
		if e := s.entries[j].Load(); e == nil || e.hash == h || e.claims.ExpiresAt <= now {
			i, old = j, e
			break
		}
	}
	if i < 0 {
		i = rand.IntN(cacheWays)
		old = s.entries[i].Load()
	}
	e := &verifiedToken{hash: h, cost: entryCost(token, &claims), claims: claims}
	delta := e.cost
	if old != nil {
		delta -= old.cost
	}
	if delta > 0 && c.bytes.Load()+delta > c.budget {
		return
	}
	// The cache keeps its own copy of the token, so that it never pins the buffer a caller's token was
	// cut from (a request header, a body).
	e.token = strings.Clone(token)
	// Swapping from the entry the cost was computed against keeps c.bytes the sum of the entries' costs.
	if s.entries[i].CompareAndSwap(old, e) {
		s.hashes[i].Store(h)
		c.bytes.Add(delta)
	}
}

// len counts the cached tokens.
func (c *verifiedCache) len() int {
	t := c.table.Load()
	if t == nil {
		return 0
	}
	n := 0
	for i := range *t {
		for j := range cacheWays {
			if (*t)[i].entries[j].Load() != nil {
				n++
			}
		}
	}
	return n
}
