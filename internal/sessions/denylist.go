package sessions

import (
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// Denylist is the in-memory set of revoked session ids that every request is checked against. It holds
// one entry per revoked, not yet expired session, so its size follows revocations, never live sessions.
// Entries carry the Unix second after which no token of that session can be valid, and are pruned then.
type Denylist struct {
	mu      sync.RWMutex
	revoked map[string]int64 // session id -> expiry (Unix seconds)
	seq     int64            // highest revocation-feed sequence applied
}

// NewDenylist returns an empty denylist.
func NewDenylist() *Denylist {
	return &Denylist{revoked: make(map[string]int64)}
}

// Revoked reports whether the session id is revoked. It takes a read lock and does one map lookup.
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
		if cur, ok := d.revoked[r.SessionID]; !ok || exp > cur {
			d.revoked[r.SessionID] = exp
		}
		if fromFeed && r.Seq > d.seq {
			d.seq = r.Seq
		}
	}
	d.mu.Unlock()
}

// Seq returns the highest feed sequence applied.
func (d *Denylist) Seq() int64 {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return d.seq
}

// Len returns the number of entries.
func (d *Denylist) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.revoked)
}

// Prune drops entries whose sessions can no longer have a valid token at now.
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
	return n
}
