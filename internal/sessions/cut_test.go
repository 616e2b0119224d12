package sessions

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

func TestDenylistCuts(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const user, other = "3f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b", "4f1c2b4a-5d6e-4f70-8a9b-0c1d2e3f4a5b"
	const kept, s1, s2 = "00000000-0000-4000-8000-00000000000a", "00000000-0000-4000-8000-00000000000b", "00000000-0000-4000-8000-00000000000c"
	claims := func(uid, tid string, gen int64) tokens.Claims {
		return tokens.Claims{UserID: uid, TokenID: tid, Generation: gen}
	}
	d := NewDenylist()
	d.Apply(storage.Revocation{Seq: 1, UserID: user, Generation: 2, Keep: kept, ExpireTime: base.Add(time.Hour)})
	tests := []struct {
		name string
		c    tokens.Claims
		want bool
	}{
		{"earlier generation", claims(user, s1, 1), true},
		{"generation 0 (a Nakama token)", claims(user, s1, 0), true},
		{"the kept session", claims(user, kept, 1), false},
		{"the cut's generation", claims(user, s2, 2), false},
		{"a later generation", claims(user, s2, 3), false},
		{"another account", claims(other, s1, 0), false},
	}
	for _, tt := range tests {
		if got := d.Denies(tt.c); got != tt.want {
			t.Errorf("%s: Denies = %v, want %v", tt.name, got, tt.want)
		}
	}
	if d.Len() != 1 {
		t.Errorf("Len = %d, want 1 (one entry per account)", d.Len())
	}

	// A later cut replaces the rule and keeps the later expiry of the two; an earlier one read afterwards
	// (out of order) changes neither the rule nor shortens the expiry.
	d.Add(storage.Revocation{UserID: user, Generation: 3, ExpireTime: base.Add(time.Minute)})
	d.Apply(storage.Revocation{Seq: 2, UserID: user, Generation: 1, Keep: s2, ExpireTime: base.Add(2 * time.Hour)})
	if !d.Denies(claims(user, kept, 1)) || !d.Denies(claims(user, s2, 2)) || d.Denies(claims(user, s2, 3)) {
		t.Error("the later cut's rule does not hold")
	}
	if n := d.Prune(base.Add(time.Hour + time.Minute)); n != 0 || !d.Denies(claims(user, s1, 1)) {
		t.Errorf("pruned %d entries before the latest expiry of the account's cuts", n)
	}
	if n := d.Prune(base.Add(2*time.Hour + time.Second)); n != 1 || d.Denies(claims(user, s1, 1)) {
		t.Errorf("prune after the expiry removed %d entries", n)
	}
	if d.Seq() != 2 {
		t.Errorf("Seq = %d, want 2", d.Seq())
	}
}

// TestLogoutAllIsOneCut: ending every session of an account writes one entry to the denylist whatever
// the number of sessions, refuses every token of them (session and refresh) on this node and on another
// node following the same store, spares the caller's session for scope "others", and leaves sessions
// started afterwards alone.
func TestLogoutAllIsOneCut(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	path := t.TempDir() + "/cut.db"
	a, b := newNode(t, path, now), newNode(t, path, now)
	for _, m := range []*Manager{a, b} {
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	u := newUser(t, a.users, "a", now)
	const n = 50
	var old []Issued
	for range n {
		is, err := a.Issue(ctx, u, nil, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		old = append(old, is)
	}
	caller := old[0]
	if err := a.Logout(ctx, caller.Claims, "", "", ScopeOthers, Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := b.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Manager{"writer": a, "follower": b} {
		if got := m.Denylist().Len(); got != 1 {
			t.Errorf("%s: denylist holds %d entries after ending %d sessions, want 1", name, got, n-1)
		}
		if _, err := m.Validate(caller.Token); err != nil {
			t.Errorf("%s: the caller's session was ended: %v", name, err)
		}
		for _, is := range old[1:] {
			if _, err := m.Validate(is.Token); !errors.Is(err, ErrRevoked) {
				t.Fatalf("%s: a logged-out session's token: Validate = %v, want ErrRevoked", name, err)
			}
		}
		if _, err := m.Refresh(ctx, old[n-1].RefreshToken, nil, Meta{}); !errors.Is(err, ErrRefreshTokenInvalid) {
			t.Errorf("%s: a logged-out session's refresh token: Refresh = %v, want ErrRefreshTokenInvalid", name, err)
		}
	}
	list, _, err := a.List(ctx, u.ID, "", 100)
	if err != nil || len(list) != 1 || list[0].ID != caller.Claims.TokenID {
		t.Errorf("sessions after logout others = %d, %v; want only the caller's", len(list), err)
	}

	// A login after the cut is in the new generation: live on both nodes, refreshable, and its refresh
	// keeps the generation.
	fresh, err := b.Issue(ctx, u, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if fresh.Claims.Generation < 1 {
		t.Errorf("token issued after the cut has generation %d", fresh.Claims.Generation)
	}
	for name, m := range map[string]*Manager{"a": a, "b": b} {
		if _, err := m.Validate(fresh.Token); err != nil {
			t.Errorf("%s: token issued after the cut: Validate = %v", name, err)
		}
	}
	next, err := a.Refresh(ctx, fresh.RefreshToken, nil, Meta{})
	if err != nil || next.Claims.Generation != fresh.Claims.Generation {
		t.Errorf("refresh after the cut = generation %d, %v; want %d", next.Claims.Generation, err, fresh.Claims.Generation)
	}

	// Logging out everything, the caller included, is still one entry per account.
	if err := b.Logout(ctx, fresh.Claims, "", "", ScopeAll, Meta{}); err != nil {
		t.Fatal(err)
	}
	if err := a.catchUp(ctx); err != nil {
		t.Fatal(err)
	}
	for name, m := range map[string]*Manager{"a": a, "b": b} {
		for _, tok := range []string{caller.Token, fresh.Token, next.Token} {
			if _, err := m.Validate(tok); !errors.Is(err, ErrRevoked) {
				t.Errorf("%s: after logout all: Validate = %v, want ErrRevoked", name, err)
			}
		}
		if got := m.Denylist().Len(); got != 1 {
			t.Errorf("%s: denylist holds %d entries, want 1", name, got)
		}
	}
}

// TestCutsSurviveRestart: a node that starts after a cut (reading the feed from the start) refuses the
// ended sessions' tokens.
func TestCutsSurviveRestart(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	path := t.TempDir() + "/restart.db"
	a := newNode(t, path, now)
	if err := a.Load(ctx); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, a.users, "a", now)
	is, err := a.Issue(ctx, u, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := a.Ban(ctx, u.ID, "cheating"); err != nil || n != 1 {
		t.Fatalf("Ban = %d, %v; want 1 session ended", n, err)
	}
	restarted := newNode(t, path, now)
	if err := restarted.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := restarted.Validate(is.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("after a restart: a banned account's token: Validate = %v, want ErrRevoked", err)
	}
}

// TestRefreshWritesOnlyWhenItMust: without rotation, a refresh that changes nothing the store holds but
// the refresh time writes nothing, and the session's stored expiry always covers every token issued, so
// that ending the session denies them all until they expire.
func TestRefreshWritesOnlyWhenItMust(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newNode(t, t.TempDir()+"/refresh.db", now)
	clock := now
	m.clock = func() time.Time { return clock }
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	u := newUser(t, m.users, "a", now)
	is, err := m.Issue(ctx, u, map[string]string{"k": "v"}, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	stored := func() *storage.Session {
		s, err := m.store.SessionByID(ctx, is.Claims.TokenID)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	covers := func(what string, is Issued) {
		t.Helper()
		if s := stored(); s.ExpireTime.Unix() < max(is.Claims.ExpiresAt, is.RefreshExp) {
			t.Errorf("%s: stored expiry %v does not cover the tokens issued (refresh token until %v)", what, s.ExpireTime, time.Unix(is.RefreshExp, 0).UTC())
		}
	}
	covers("login", is)
	slack := m.cfg.RefreshExpiry / 4
	// Within the slack: no write (the stored refresh count and time stay).
	clock = now.Add(slack / 2)
	next, err := m.Refresh(ctx, is.RefreshToken, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if s := stored(); s.RefreshSeq != 0 || !s.RefreshTime.Equal(now) {
		t.Errorf("a refresh within the slack wrote: seq %d, refresh time %v", s.RefreshSeq, s.RefreshTime)
	}
	if next.RefreshExp != clock.Add(m.cfg.RefreshExpiry).Unix() || next.Claims.Vars["k"] != "v" {
		t.Errorf("refreshed pair: refresh exp %d, vars %v", next.RefreshExp, next.Claims.Vars)
	}
	covers("refresh in place", next)
	// Past the slack: the refresh writes, with slack to spare again.
	clock = now.Add(slack + time.Second)
	later, err := m.Refresh(ctx, next.RefreshToken, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	if s := stored(); s.RefreshSeq != 1 || !s.RefreshTime.Equal(clock) {
		t.Errorf("a refresh past the slack did not write: seq %d, refresh time %v", s.RefreshSeq, s.RefreshTime)
	}
	covers("refresh that wrote", later)
	// New variables are written whatever the expiry.
	changed, err := m.Refresh(ctx, later.RefreshToken, map[string]string{"k": "w"}, Meta{})
	if err != nil || stored().Vars["k"] != "w" || stored().RefreshSeq != 2 {
		t.Errorf("a refresh with new vars: %v, stored vars %v", err, stored().Vars)
	}
	// Ending the session denies every token issued, in place or not.
	if err := m.Logout(ctx, changed.Claims, "", "", ScopeCurrent, Meta{}); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{later.Token, changed.Token} { // the earlier session tokens have expired
		if _, err := m.Validate(tok); !errors.Is(err, ErrRevoked) {
			t.Errorf("after logout: Validate = %v, want ErrRevoked", err)
		}
	}
	for _, tok := range []string{is.RefreshToken, next.RefreshToken, later.RefreshToken, changed.RefreshToken} {
		if _, err := m.Refresh(ctx, tok, nil, Meta{}); !errors.Is(err, ErrRefreshTokenInvalid) {
			t.Errorf("after logout: Refresh = %v, want ErrRefreshTokenInvalid", err)
		}
	}
}

// staleAccounts answers with the account as it was, as a per-node cache can.
type staleAccounts struct{ u storage.User }

func (s staleAccounts) UserByID(context.Context, string) (*storage.User, error) {
	u := s.u
	return &u, nil
}

// TestRefreshWithCachedAccount: a refresh may read the account from a cache, but a cache that is behind
// never decides a refusal: a ban it does not show yet is still told as a ban (the ban ended the session,
// which is read from the store), and an unban it does not show yet does not refuse the refresh.
func TestRefreshWithCachedAccount(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	base := newNode(t, t.TempDir()+"/cached.db", now)
	u := newUser(t, base.users, "a", now)
	banned := *u
	banned.DisableTime = now
	for name, tt := range map[string]struct {
		cached storage.User
		ban    bool
		want   error
	}{
		"cache shows no ban, the account is banned": {*u, true, ErrBanned},
		"cache shows a ban that was lifted":         {banned, false, nil},
		"cache and store agree":                     {*u, false, nil},
	} {
		t.Run(name, func(t *testing.T) {
			m := New(base.cfg, Deps{Store: base.store, Users: base.users, SessionKeys: base.skeys, RefreshKeys: base.rkeys,
				Clock: func() time.Time { return now }, Accounts: staleAccounts{tt.cached}})
			if err := m.Load(ctx); err != nil {
				t.Fatal(err)
			}
			if err := base.users.SetDisableTime(ctx, u.ID, time.Time{}); err != nil {
				t.Fatal(err)
			}
			is, err := m.Issue(ctx, u, nil, Meta{})
			if err != nil {
				t.Fatal(err)
			}
			if tt.ban {
				if _, err := m.Ban(ctx, u.ID, "test"); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := m.Refresh(ctx, is.RefreshToken, nil, Meta{}); !errors.Is(err, tt.want) && !(err == nil && tt.want == nil) {
				t.Errorf("Refresh = %v, want %v", err, tt.want)
			}
		})
	}
}
