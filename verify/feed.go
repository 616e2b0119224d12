package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// revocations are the feed's entries that may still end a ticket, as the verifier holds them.
type revocations struct {
	mu       sync.RWMutex
	sessions map[string]int64 // session id -> forget at (Unix seconds)
	cuts     map[string][]cut // user id -> the account cuts of that user
	swept    int64            // when apply last forgot old entries
}

// cut is an account cut: the sessions of generations below gen end, but keep.
type cut struct {
	gen    int64
	keep   string
	forget int64
}

// ticketGrace keeps an entry this long after its expires_at. The entry's expiry is its sessions', and a
// ticket minted in a session's last minutes may outlive it by up to the node's tickets.max_ttl_sec
// (default 300).
const ticketGrace = 300

func newRevocations() revocations {
	return revocations{sessions: map[string]int64{}, cuts: map[string][]cut{}}
}

// feedEntry is one entry of GET /latchkey/v1/revocations.
type feedEntry struct {
	Seq        int64  `json:"seq"`
	SessionID  string `json:"session_id"`
	UserID     string `json:"user_id"`
	ExpiresAt  int64  `json:"expires_at"`
	RevokedAt  int64  `json:"revoked_at"`
	Generation int64  `json:"generation"`
	Keep       string `json:"keep"`
}

// feedPage is the answer of GET /latchkey/v1/revocations.
type feedPage struct {
	Revocations []feedEntry `json:"revocations"`
	Next        *int64      `json:"next"`
}

// sweepEvery is how often, in seconds, apply forgets the entries past their time.
const sweepEvery = 60

// apply adds entries and, once a minute, forgets those past their time.
func (r *revocations) apply(entries []feedEntry, now int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range entries {
		forget := e.ExpiresAt + ticketGrace
		switch {
		case e.SessionID != "":
			r.sessions[e.SessionID] = max(r.sessions[e.SessionID], forget)
		case e.UserID != "":
			r.cuts[e.UserID] = append(r.cuts[e.UserID], cut{gen: e.Generation, keep: e.Keep, forget: forget})
		}
	}
	if now-r.swept < sweepEvery {
		return
	}
	r.swept = now
	for id, t := range r.sessions {
		if t <= now {
			delete(r.sessions, id)
		}
	}
	for user, cs := range r.cuts {
		kept := cs[:0]
		for _, c := range cs {
			if c.forget > now {
				kept = append(kept, c)
			}
		}
		if len(kept) == 0 {
			delete(r.cuts, user)
		} else {
			r.cuts[user] = kept
		}
	}
}

// ends reports whether an entry ends the session of c, by the contract's rule: a session entry names its
// session; an account cut ends the user's sessions of earlier generations but the one it keeps.
func (r *revocations) ends(c *Claims) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if _, ok := r.sessions[c.SessionID]; ok {
		return true
	}
	for _, cut := range r.cuts[c.UserID] {
		if c.Generation < cut.gen && c.SessionID != cut.keep {
			return true
		}
	}
	return false
}

// feedPageLimit is how many entries one feed request asks for.
const feedPageLimit = 1000

// follow reads the revocation feed from the start until ctx is done: first without waiting until an
// answer brings nothing new (the catch-up, after which the verifier may be ready), then long-polling.
// After a failure it resumes after the last entry it applied, so an outage loses nothing.
func (v *Verifier) follow(ctx context.Context) {
	var after int64
	caughtUp, failures := false, 0
	for ctx.Err() == nil {
		var wait time.Duration
		if caughtUp {
			wait = v.cfg.FeedWait
		}
		sent := time.Now()
		page, err := v.poll(ctx, after, wait)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			d := retryDelay(failures, v.cfg.MaxRetryDelay)
			v.log.Warn("verify: reading the revocation feed failed", "after", after, "err", err, "retry_in", d)
			sleep(ctx, d)
			continue
		}
		if failures > 0 {
			v.log.Info("verify: revocation feed back", "after", after, "failures", failures)
			failures = 0
		}
		v.revoked.apply(page.Revocations, v.now())
		after = max(after, *page.Next)
		if len(page.Revocations) > 0 {
			continue
		}
		if !caughtUp {
			caughtUp = true
			v.feedReady.Store(true)
			v.markReady()
			continue
		}
		// A long poll that comes back empty at once (a proxy that does not hold requests) must not spin.
		if time.Since(sent) < wait/10 {
			sleep(ctx, wait/10)
		}
	}
}

// poll makes one feed request.
func (v *Verifier) poll(ctx context.Context, after int64, wait time.Duration) (feedPage, error) {
	ctx, cancel := context.WithTimeout(ctx, wait+15*time.Second)
	defer cancel()
	path := "/latchkey/v1/revocations?after=" + strconv.FormatInt(after, 10) +
		"&wait_ms=" + strconv.FormatInt(wait.Milliseconds(), 10) + "&limit=" + strconv.Itoa(feedPageLimit)
	body, err := v.get(ctx, path, true, 64<<20)
	if err != nil {
		return feedPage{}, err
	}
	var page feedPage
	if err := json.Unmarshal(body, &page); err != nil || page.Next == nil {
		return feedPage{}, errors.New("the revocation feed's answer is not {revocations, next}")
	}
	return page, nil
}

// get fetches path on the node and returns the body of a 200 answer, at most limit bytes.
func (v *Verifier) get(ctx context.Context, path string, auth bool, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.base+path, nil)
	if err != nil {
		return nil, err
	}
	if auth {
		req.Header.Set("Authorization", "Bearer "+v.cfg.VerifierKey)
	}
	req.Header.Set("Accept", "application/json")
	res, err := v.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	switch {
	case err != nil:
		return nil, err
	case res.StatusCode == http.StatusUnauthorized:
		return nil, errors.New("401: the node does not accept the verifier key (tickets.verifier_keys)")
	case res.StatusCode == http.StatusNotFound && auth:
		return nil, errors.New("404: the node has no revocation feed (tickets.verifier_keys is empty, or the node predates tickets)")
	case res.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("answered %s", res.Status)
	case int64(len(body)) > limit:
		return nil, fmt.Errorf("answer longer than %d bytes", limit)
	}
	return body, nil
}

// retryDelay is the delay after the given number of consecutive failures: a quarter second doubled for
// each, at most ceiling, and jittered down by up to half so that verifiers that lost the node together
// do not come back together.
func retryDelay(failures int, ceiling time.Duration) time.Duration {
	d := 250 * time.Millisecond << min(failures-1, 20)
	d = min(d, ceiling)
	return d/2 + rand.N(d/2+1)
}

// sleep waits d or until ctx is done, and reports whether ctx is still live.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
