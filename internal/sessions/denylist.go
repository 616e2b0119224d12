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

// Apply adds feed entries, remembering the highest sequence seen. Entries without a sequence (a local
// revocation of a session the store does not know) are added but move no watermark.
func (d *Denylist) Apply(revs ...storage.Revocation) {
	if len(revs) == 0 {
		return
	}
	d.mu.Lock()
	for _, r := range revs {
		exp := r.ExpireTime.Unix() + 1
		if cur, ok := d.revoked[r.SessionID]; !ok || exp > cur {
			d.revoked[r.SessionID] = exp
		}
		if r.Seq > d.seq {
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
