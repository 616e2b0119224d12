package sessions

import (
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// TestRevoked: the check a ticket's redemption makes by (user, session, generation) follows the denylist
// as a token's validation does: a logged-out session, every session a ban cut, and nothing else.
func TestRevoked(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newNode(t, t.TempDir()+"/revoked.db", now)
	u := newUser(t, m.users, "a", now)
	other := newUser(t, m.users, "b", now)
	issue := func(user *storage.User) Issued {
		t.Helper()
		is, err := m.Issue(ctx, user, nil, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return is
	}
	revoked := func(is Issued) bool { return m.Revoked(is.Claims.UserID, is.Claims.TokenID, is.Claims.Generation) }
	out, kept, others := issue(u), issue(u), issue(other)
	if revoked(out) || revoked(kept) || revoked(others) {
		t.Fatal("live sessions reported revoked")
	}
	if err := m.Logout(ctx, out.Claims, "", "", ScopeCurrent, Meta{}); err != nil {
		t.Fatal(err)
	}
	if !revoked(out) || revoked(kept) {
		t.Errorf("after logging out one session: revoked %v, other session revoked %v; want true, false", revoked(out), revoked(kept))
	}
	if _, err := m.Ban(ctx, u.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if !revoked(kept) {
		t.Error("a banned account's session is not revoked")
	}
	if revoked(others) {
		t.Error("another account's session is revoked by the ban")
	}
	if err := m.Unban(ctx, u.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if after := issue(u); revoked(after) {
		t.Error("a session started after the ban (a later generation) is revoked")
	}
}

// TestRevocationsAdded: the signal fires when this node revokes and when its follower reads another
// node's revocation from the feed, and not before.
func TestRevocationsAdded(t *testing.T) {
	ctx := t.Context()
	now := time.Now().UTC()
	path := t.TempDir() + "/signal.db"
	a, b := newNode(t, path, now), newNode(t, path, now)
	u := newUser(t, a.users, "a", now)
	first, err := a.Issue(ctx, u, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	second, err := a.Issue(ctx, u, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Load(ctx); err != nil {
		t.Fatal(err)
	}
	own, fed := a.RevocationsAdded(), b.RevocationsAdded()
	select {
	case <-own:
		t.Fatal("fired before any revocation")
	case <-fed:
		t.Fatal("fired before any revocation")
	default:
	}
	if err := a.Logout(ctx, first.Claims, "", "", ScopeCurrent, Meta{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-own:
	default:
		t.Fatal("A's own revocation did not fire A's signal")
	}
	next := a.RevocationsAdded()
	select {
	case <-next:
		t.Fatal("the next wait is already fired")
	default:
	}

	go b.Follow(ctx, 20*time.Millisecond)
	select {
	case <-fed:
	case <-time.After(5 * time.Second):
		t.Fatal("B's signal did not fire within 5 s of A's revocation")
	}
	if err := a.Logout(ctx, second.Claims, "", "", ScopeCurrent, Meta{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-next:
	default:
		t.Fatal("a second revocation did not fire the signal taken after the first")
	}
}
