package e2e

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// TestTicketsAcrossNodes runs two latchkey processes on one PostgreSQL database with a verifier key: a
// join ticket minted on A is active at B's introspection once and inactive the second time, on either
// node; and a logout on A reaches a revocation-feed long-poll parked on B within revocationBound. The
// measured time is logged.
func TestTicketsAcrossNodes(t *testing.T) {
	const key = "e2e-verifier-key-0123456789"
	db := pgtest.NewDatabase(t)
	a := startNode(t, "node-a", "--database.address", db, "--tickets.verifier_keys", key)
	b := startNode(t, "node-b", "--database.address", db, "--tickets.verifier_keys", key)

	s := a.must("POST", "/v2/account/authenticate/device?username=ticketholder", "basic", `{"id":"e2e-ticket-device"}`).pair(t)
	minted := a.must("POST", "/v2/session/ticket", "bearer:"+s.Token, `{"audience":"match-1"}`)
	minted.wantStatus(t, http.StatusOK)
	ticket, _ := minted.Body["ticket"].(string)
	body := `{"token":"` + ticket + `","audience":"match-1"}`
	if r := b.must("POST", "/latchkey/v1/introspect", "bearer:"+key, body); r.Status != http.StatusOK || r.Body["active"] != true || r.Body["username"] != "ticketholder" {
		t.Fatalf("first introspection on B: %d %s", r.Status, r.Raw)
	}
	for _, n := range []*node{b, a} {
		if r := n.must("POST", "/latchkey/v1/introspect", "bearer:"+key, body); r.Raw != `{"active":false}` {
			t.Errorf("introspection again on %s: %d %s", n.name, r.Status, r.Raw)
		}
	}

	latest := b.must("GET", "/latchkey/v1/revocations", "bearer:"+key, "")
	latest.wantStatus(t, http.StatusOK)
	after := int64(latest.Body["next"].(float64))
	type polled struct {
		r   reply
		err error
		at  time.Time
	}
	done := make(chan polled, 1)
	go func() {
		// Below the client's 10 s timeout; the node cuts a wait short before its request deadline anyway.
		ctx, cancel := context.WithTimeout(context.Background(), 9*time.Second)
		defer cancel()
		r, err := b.call(ctx, "GET", fmt.Sprintf("/latchkey/v1/revocations?after=%d&wait_ms=8000", after), "bearer:"+key, "")
		done <- polled{r, err, time.Now()}
	}()
	// Give the long-poll time to reach B and park; if it has not, it answers at once with the entry,
	// which still holds the promise.
	time.Sleep(300 * time.Millisecond)
	loggedOut := time.Now() // counted from the logout request, so its own latency is in the figure
	a.must("POST", "/v2/session/logout", "bearer:"+s.Token, `{"scope":"current"}`).wantStatus(t, http.StatusOK)
	p := <-done
	if p.err != nil {
		t.Fatal(p.err)
	}
	revs, _ := p.r.Body["revocations"].([]any)
	if p.r.Status != http.StatusOK || len(revs) != 1 {
		t.Fatalf("B's long-poll answered %d %s", p.r.Status, p.r.Raw)
	}
	took := max(0, p.at.Sub(loggedOut))
	t.Logf("a logout on A reached the feed long-poll on B %v after the logout request to A (bound %v)", took.Round(time.Microsecond), revocationBound)
	if took > revocationBound {
		t.Errorf("the long-poll on B answered %v after the logout on A, bound %v", took, revocationBound)
	}
	if e := revs[0].(map[string]any); e["session_id"] == "" || e["user_id"] == "" {
		t.Errorf("feed entry %v", e)
	}
}
