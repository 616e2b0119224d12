package sessions

import (
	"hash/maphash"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Denylist is the in-memory set of ended sessions that every request is checked against. It holds one
// entry per session ended on its own (a logout, the session cap, a refresh token replay) and one per
// account whose sessions were ended together (an account cut: logout of every session, a ban, a
// deletion), each until no token it ends can still be valid. Its size follows single revocations and
// accounts, never live sessions: ending a million sessions of one account costs one entry.
//
// Every authenticated request reads it, from every core at once, while writes are rare (a logout, a batch
// from the revocation feed); so reads take no lock and write nothing (see cowMap). A read-write mutex,
// even one per shard of the keys, has every read write the lock's reader count, a cache line that then
// moves between cores with every request, and the requests of one busy session or account would all
// share one shard's lock. A sync.Map reads as well but takes four times the memory per entry. Writers are
// serialized by mu.
type Denylist struct {
	revoked cowMap[int64]  // session id -> expiry (Unix seconds)
	cuts    cowMap[cutEnd] // user id -> the account's latest cut
	hasCuts atomic.Bool    // cuts is not empty, so that Denies skips the second lookup while it is
	seq     atomic.Int64   // highest revocation-feed sequence applied

	mu sync.Mutex // held by writers: add and Prune
}

// cutEnd is an account cut as the denylist keeps it: sessions of generations below gen are ended, but
// keep, until exp (Unix seconds).
type cutEnd struct {
	gen  int64
	keep string
	exp  int64
}

// NewDenylist returns an empty denylist.
func NewDenylist() *Denylist {
	d := &Denylist{}
	d.revoked.seed, d.cuts.seed = maphash.MakeSeed(), maphash.MakeSeed()
	return d
}

// Denies reports whether the token's session has ended: on its own, or by a cut of its account that
// reaches the token's generation. It takes no lock and does at most two map lookups. An entry whose Add
// or Apply has not returned yet may or may not be seen.
func (d *Denylist) Denies(c tokens.Claims) bool {
	if _, ok := d.revoked.load(c.TokenID); ok {
		return true
	}
	if !d.hasCuts.Load() {
		return false
	}
	cut, ok := d.cuts.load(c.UserID)
	return ok && c.Generation < cut.gen && c.TokenID != cut.keep
}

// Revoked reports whether the session id was ended on its own (account cuts aside).
func (d *Denylist) Revoked(sessionID string) bool {
	_, ok := d.revoked.load(sessionID)
	return ok
}

// Apply adds entries read from the feed, in feed order, and moves the watermark to the highest sequence
// among them. Only a reader of the feed may call it: the feed is complete up to any sequence it returns.
func (d *Denylist) Apply(revs ...storage.Revocation) {
	d.add(revs, true)
}

// Add adds entries this process wrote itself, so that they take effect before the next catch-up, without
// moving the watermark: another process may have committed entries with lower sequences that this one has
// not read yet, and jumping past them would lose them.
func (d *Denylist) Add(revs ...storage.Revocation) {
	d.add(revs, false)
}

// add adds the entries. A reader may see some shards of a batch changed before others, which is harmless
// since each entry ends sessions on its own; the watermark moves after them all, so that a reader of Seq
// never finds it past an entry not yet added.
func (d *Denylist) add(revs []storage.Revocation, fromFeed bool) {
	if len(revs) == 0 {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	revoked, cuts := d.revoked.edit(), d.cuts.edit()
	seq := d.seq.Load()
	for _, r := range revs {
		exp := r.ExpireTime.Unix() + 1
		if r.IsCut() {
			addCut(cuts, r.UserID, cutEnd{gen: r.Generation, keep: r.Keep, exp: exp})
		} else if cur, ok := revoked.get(r.SessionID); !ok || exp > cur {
			revoked.set(r.SessionID, exp)
		}
		if fromFeed && r.Seq > seq {
			seq = r.Seq
		}
	}
	if d.cuts.n > 0 {
		d.hasCuts.Store(true) // before the cuts, so that Denies does not skip one that is there
	}
	revoked.commit()
	cuts.commit()
	d.seq.Store(seq)
}

// addCut records a cut of the account. Only the latest cut's rule is kept (the highest generation, with
// its kept session): it ends every session an earlier cut ended, since a cut keeps only a session that was
// live. Its expiry becomes the latest of all the cuts seen, since an earlier cut may have ended a session
// that outlives everything the latest one ended.
func addCut(cuts *cowEdit[cutEnd], userID string, c cutEnd) {
	if cur, ok := cuts.get(userID); ok {
		if cur.gen > c.gen {
			c.gen, c.keep = cur.gen, cur.keep
		}
		c.exp = max(c.exp, cur.exp)
	}
	cuts.set(userID, c)
}

// Seq returns the highest feed sequence applied.
func (d *Denylist) Seq() int64 {
	return d.seq.Load()
}

// Len returns the number of entries: single sessions and accounts.
func (d *Denylist) Len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.revoked.n + d.cuts.n
}

// Prune drops entries that can no longer end a valid token at now.
func (d *Denylist) Prune(now time.Time) int {
	cut := now.Unix()
	d.mu.Lock()
	defer d.mu.Unlock()
	n := d.revoked.deleteIf(func(exp int64) bool { return exp <= cut })
	n += d.cuts.deleteIf(func(c cutEnd) bool { return c.exp <= cut })
	if d.cuts.n == 0 {
		d.hasCuts.Store(false) // after the cuts, for the same reason
	}
	return n
}

// cowShards is the number of shards of a cowMap: enough that a write copies few entries (about 100, 3 µs,
// in a denylist of 100,000), few enough that an empty map costs little (8 KB).
const cowShards = 1024

// cowMap is a map from strings that readers share without a lock. It is cut into shards by a hash of the
// key, each an immutable map behind an atomic pointer; a writer replaces the shards it changes with
// changed copies. A read costs a hash, an atomic load and a map lookup, and writes no shared memory; a
// write costs a copy of the shards it changes. The caller serializes writers.
type cowMap[V any] struct {
	seed   maphash.Seed
	shards [cowShards]atomic.Pointer[map[string]V] // nil: an empty shard
	n      int                                     // entries, kept by writers
}

func (m *cowMap[V]) shard(key string) *atomic.Pointer[map[string]V] {
	return &m.shards[maphash.String(m.seed, key)%cowShards]
}

func (m *cowMap[V]) load(key string) (V, bool) {
	p := m.shard(key).Load()
	if p == nil {
		var zero V
		return zero, false
	}
	v, ok := (*p)[key]
	return v, ok
}

// edit starts a write.
func (m *cowMap[V]) edit() *cowEdit[V] {
	return &cowEdit[V]{m: m}
}

// deleteIf drops the entries whose value matches, and returns how many it dropped.
func (m *cowMap[V]) deleteIf(match func(V) bool) int {
	n := 0
	for i := range m.shards {
		p := m.shards[i].Load()
		if p == nil {
			continue
		}
		var kept map[string]V // a copy, made at the first entry dropped
		for k, v := range *p {
			if !match(v) {
				continue
			}
			if kept == nil {
				kept = maps.Clone(*p)
			}
			delete(kept, k)
			n++
		}
		switch {
		case kept == nil:
		case len(kept) == 0:
			m.shards[i].Store(nil)
		default:
			m.shards[i].Store(&kept)
		}
	}
	m.n -= n
	return n
}

// cowEdit is a write in progress: copies of the shards it changed, which commit publishes.
type cowEdit[V any] struct {
	m      *cowMap[V]
	copies map[*atomic.Pointer[map[string]V]]map[string]V
}

// get reads an entry as the write has left it so far.
func (e *cowEdit[V]) get(key string) (V, bool) {
	if c, ok := e.copies[e.m.shard(key)]; ok {
		v, found := c[key]
		return v, found
	}
	return e.m.load(key)
}

func (e *cowEdit[V]) set(key string, v V) {
	sh := e.m.shard(key)
	c, ok := e.copies[sh]
	if !ok {
		if p := sh.Load(); p != nil {
			c = maps.Clone(*p)
		} else {
			c = make(map[string]V)
		}
		if e.copies == nil {
			e.copies = make(map[*atomic.Pointer[map[string]V]]map[string]V)
		}
		e.copies[sh] = c
	}
	if _, exists := c[key]; !exists {
		e.m.n++
	}
	c[key] = v
}

// commit publishes the changed shards.
func (e *cowEdit[V]) commit() {
	for sh, c := range e.copies {
		sh.Store(&c)
	}
}
