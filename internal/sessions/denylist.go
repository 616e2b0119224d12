package sessions

import (
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Denylist is the in-memory set of ended sessions that every request is checked against. It holds one
// entry per session ended on its own (a logout, the session cap, a refresh token replay) and one per
// account whose sessions were ended together (an account cut: logout of every session, a ban, a
// deletion), each until no token it ends can still be valid. Its size follows single revocations and
// accounts, never live sessions: ending a million sessions of one account costs one entry.
type Denylist struct {
	mu      sync.RWMutex
	revoked map[string]int64  // session id -> expiry (Unix seconds)
	cuts    map[string]cutEnd // user id -> the account's latest cut
	seq     int64             // highest revocation-feed sequence applied
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
	return &Denylist{revoked: make(map[string]int64), cuts: make(map[string]cutEnd)}
}

// Denies reports whether the token's session has ended: on its own, or by a cut of its account that
// reaches the token's generation. It takes a read lock and does at most two map lookups.
func (d *Denylist) Denies(c tokens.Claims) bool {
	d.mu.RLock()
	_, ok := d.revoked[c.TokenID]
	if !ok && len(d.cuts) > 0 {
		if cut, found := d.cuts[c.UserID]; found {
			ok = c.Generation < cut.gen && c.TokenID != cut.keep
		}
	}
	d.mu.RUnlock()
	return ok
}

// Revoked reports whether the session id was ended on its own (account cuts aside).
func (d *Denylist) Revoked(sessionID string) bool {
	d.mu.RLock()
	_, ok := d.revoked[sessionID]
	d.mu.RUnlock()
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

func (d *Denylist) add(revs []storage.Revocation, fromFeed bool) {
	if len(revs) == 0 {
		return
	}
	d.mu.Lock()
	for _, r := range revs {
		exp := r.ExpireTime.Unix() + 1
		if r.IsCut() {
			d.addCut(r.UserID, cutEnd{gen: r.Generation, keep: r.Keep, exp: exp})
		} else if cur, ok := d.revoked[r.SessionID]; !ok || exp > cur {
			d.revoked[r.SessionID] = exp
		}
		if fromFeed && r.Seq > d.seq {
			d.seq = r.Seq
		}
	}
	d.mu.Unlock()
}

// addCut records a cut of the account. Only the latest cut's rule is kept (the highest generation, with
// its kept session): it ends every session an earlier cut ended, since a cut keeps only a session that was
// live. Its expiry becomes the latest of all the cuts seen, since an earlier cut may have ended a session
// that outlives everything the latest one ended.
func (d *Denylist) addCut(userID string, c cutEnd) {
	if cur, ok := d.cuts[userID]; ok {
		if cur.gen > c.gen {
			c.gen, c.keep = cur.gen, cur.keep
		}
		c.exp = max(c.exp, cur.exp)
	}
	d.cuts[userID] = c
}

// Seq returns the highest feed sequence applied.
func (d *Denylist) Seq() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.seq
}

// Len returns the number of entries: single sessions and accounts.
func (d *Denylist) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.revoked) + len(d.cuts)
}

// Prune drops entries that can no longer end a valid token at now.
func (d *Denylist) Prune(now time.Time) int {
	cut := now.Unix()
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for id, exp := range d.revoked {
		if exp <= cut {
			delete(d.revoked, id)
			n++
		}
	}
	for id, c := range d.cuts {
		if c.exp <= cut {
			delete(d.cuts, id)
			n++
		}
	}
	return n
}
