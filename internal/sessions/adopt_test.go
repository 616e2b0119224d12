package sessions

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"github.com/latchkeyhq/latchkey/internal/storage/postgres"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// nakamaRefresh signs a refresh token as Nakama does: its claims only (no sid, gen or rsq), no kid header,
// HS256 with the refresh key; a new tid, issued an hour before now and valid for a day.
func nakamaRefresh(m *Manager, userID string, vars map[string]string, now time.Time) (string, tokens.Claims) {
	c := tokens.Claims{
		TokenID: uuid.NewString(), UserID: userID, Username: "nakama-name", Vars: vars,
		ExpiresAt: now.Add(24 * time.Hour).Unix(), IssuedAt: now.Add(-time.Hour).Unix(),
	}
	return m.rkeys.Sign(&c), c
}

func adoptingNode(t *testing.T, now time.Time, on bool) *Manager {
	t.Helper()
	m := newObservedNode(t, t.TempDir()+"/adopt.db", now, Config{TokenExpiry: time.Minute, RefreshExpiry: time.Hour, AdoptNakama: on}, nil)
	m.evs = m.store.(storage.Events)
	if err := m.Load(t.Context()); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestAdoptNakamaRefreshToken: with the switch on, a Nakama refresh token of a known account starts a
// Latchkey session with the token's id, issue time, expiry and vars, records why, and is answered with
// Latchkey's own pair, which refreshes as usual; the Nakama token itself keeps working as Nakama's would.
func TestAdoptNakamaRefreshToken(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := adoptingNode(t, now, true)
	u := newUser(t, m.users, "a", now)
	tok, nc := nakamaRefresh(m, u.ID, map[string]string{"k": "v"}, now)

	is, err := m.Refresh(ctx, tok, nil, Meta{UserAgent: "nakama-js", ClientIP: "127.0.0.1"})
	if err != nil {
		t.Fatalf("Refresh(Nakama token) = %v", err)
	}
	c := is.Claims
	if c.TokenID != nc.TokenID || c.UserID != u.ID || c.Username != u.Username || c.StoreID != m.StoreID() || c.Vars["k"] != "v" {
		t.Errorf("adopted pair's claims %+v, want tid %s, user %s (%s), sid %s, vars k=v", c, nc.TokenID, u.ID, u.Username, m.StoreID())
	}
	s, err := m.store.SessionByID(ctx, nc.TokenID)
	if err != nil {
		t.Fatal(err)
	}
	if !s.CreateTime.Equal(time.Unix(nc.IssuedAt, 0)) || s.UserAgent != "nakama-js" || s.ClientIP != "127.0.0.1" || s.Revoked() {
		t.Errorf("adopted session %+v, want created at the token's iat %d, with the request's meta, live", s, nc.IssuedAt)
	}
	evs, err := m.Events(ctx, u.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if n := countEvents(evs, storage.EventSessionCreated, adoptReason); n != 1 {
		t.Errorf("%d session_created events with reason %q, want 1 (events %+v)", n, adoptReason, evs)
	}

	// Latchkey's own refresh token works as usual, and so does the Nakama one (now a known session).
	for name, rt := range map[string]string{"latchkey": is.RefreshToken, "nakama": tok} {
		next, err := m.Refresh(ctx, rt, nil, Meta{})
		if err != nil || next.Claims.TokenID != nc.TokenID {
			t.Errorf("second refresh with the %s token: tid %q, %v; want %s", name, next.Claims.TokenID, err, nc.TokenID)
		}
	}
	if list, _, err := m.List(ctx, u.ID, "", 10); err != nil || len(list) != 1 || list[0].ID != nc.TokenID {
		t.Errorf("List = %v, %v; want the adopted session alone", list, err)
	}

	// Logged out, neither token refreshes any more.
	if err := m.Logout(ctx, c, "", "", ScopeCurrent, Meta{}); err != nil {
		t.Fatal(err)
	}
	for name, rt := range map[string]string{"latchkey": is.RefreshToken, "nakama": tok} {
		if _, err := m.Refresh(ctx, rt, nil, Meta{}); !errors.Is(err, ErrRefreshTokenInvalid) {
			t.Errorf("after logout, refresh with the %s token = %v, want ErrRefreshTokenInvalid", name, err)
		}
	}
}

func countEvents(evs []storage.Event, kind storage.EventKind, reason string) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind && ev.Reason == reason {
			n++
		}
	}
	return n
}

// TestAdoptionRefused: the cases where a Nakama refresh token is not adopted.
func TestAdoptionRefused(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name  string
		on    bool
		setup func(m *Manager, u *storage.User) string // returns the token to present
		want  error
	}{
		{"switch off", false, func(m *Manager, u *storage.User) string {
			tok, _ := nakamaRefresh(m, u.ID, nil, now)
			return tok
		}, ErrRefreshTokenInvalid},
		{"unknown account", true, func(m *Manager, u *storage.User) string {
			tok, _ := nakamaRefresh(m, uuid.NewString(), nil, now)
			return tok
		}, ErrRefreshTokenInvalid},
		{"banned account", true, func(m *Manager, u *storage.User) string {
			if _, err := m.Ban(ctx, u.ID, "test"); err != nil {
				t.Fatal(err)
			}
			tok, _ := nakamaRefresh(m, u.ID, nil, now)
			return tok
		}, ErrBanned},
		{"latchkey claims", true, func(m *Manager, u *storage.User) string {
			_, c := nakamaRefresh(m, u.ID, nil, now)
			c.Generation = 1 // a Latchkey token whose session is gone is not Nakama's
			return m.rkeys.Sign(&c)
		}, ErrRefreshTokenInvalid},
		{"logged out of every session before", true, func(m *Manager, u *storage.User) string {
			is, err := m.Issue(ctx, u, nil, Meta{})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Logout(ctx, is.Claims, "", "", ScopeAll, Meta{}); err != nil {
				t.Fatal(err)
			}
			tok, _ := nakamaRefresh(m, u.ID, nil, now)
			return tok
		}, ErrRefreshTokenInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := adoptingNode(t, now, tc.on)
			u := newUser(t, m.users, "a", now)
			tok := tc.setup(m, u)
			if _, err := m.Refresh(ctx, tok, nil, Meta{}); !errors.Is(err, tc.want) {
				t.Errorf("Refresh = %v, want %v", err, tc.want)
			}
			c, _ := m.rkeys.Verify(tok, now.Unix())
			if _, err := m.store.SessionByID(ctx, c.TokenID); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("SessionByID(tid) = %v, want ErrNotFound: nothing adopted", err)
			}
		})
	}
}

// TestAdoptionRace: two nodes on one PostgreSQL database refresh the same Nakama token at once, with and
// without rotation. Both succeed with the same session, of which exactly one exists,
// created once.
func TestAdoptionRace(t *testing.T) {
	for _, rotation := range []bool{false, true} {
		t.Run(map[bool]string{false: "no rotation", true: "rotation"}[rotation], func(t *testing.T) {
			ctx := t.Context()
			now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
			st, err := postgres.Open(ctx, pgtest.NewDatabase(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if _, err := st.MigrateUp(ctx); err != nil {
				t.Fatal(err)
			}
			cfg := Config{TokenExpiry: time.Minute, RefreshExpiry: time.Hour, AdoptNakama: true, Rotation: rotation, ReuseGrace: time.Minute}
			node := func() *Manager {
				skeys, _ := tokens.NewKeyring(tokens.Key{Secret: []byte("session-key-for-tests-0123456789")})
				rkeys, _ := tokens.NewKeyring(tokens.Key{Secret: []byte("refresh-key-for-tests-0123456789")})
				m := New(cfg, Deps{Store: st, Users: st, Events: st, SessionKeys: skeys, RefreshKeys: rkeys, Clock: func() time.Time { return now }})
				if err := m.Load(ctx); err != nil {
					t.Fatal(err)
				}
				return m
			}
			a, b := node(), node()
			u := newUser(t, st, "a", now)
			// Each round races the adoption of a new token; exactly one session of each exists afterwards.
			const rounds = 8
			want := map[string]bool{}
			for range rounds {
				tok, nc := nakamaRefresh(a, u.ID, nil, now)
				want[nc.TokenID] = true
				var wg sync.WaitGroup
				errs := make([]error, 2)
				tids := make([]string, 2)
				for i, m := range []*Manager{a, b} {
					wg.Go(func() {
						is, err := m.Refresh(ctx, tok, nil, Meta{})
						errs[i], tids[i] = err, is.Claims.TokenID
					})
				}
				wg.Wait()
				for i := range errs {
					if errs[i] != nil || tids[i] != nc.TokenID {
						t.Fatalf("node %d: tid %q, %v; want %s", i, tids[i], errs[i], nc.TokenID)
					}
				}
			}
			list, _, err := a.List(ctx, u.ID, "", 2*rounds)
			if err != nil || len(list) != rounds {
				t.Fatalf("List = %d sessions, %v; want %d", len(list), err, rounds)
			}
			for _, s := range list {
				if !want[s.ID] {
					t.Errorf("session %s is not one of the adopted tokens'", s.ID)
				}
			}
			evs, err := a.Events(ctx, u.ID, 0, 50)
			if err != nil {
				t.Fatal(err)
			}
			if n := countEvents(evs, storage.EventSessionCreated, adoptReason); n != rounds {
				t.Errorf("%d adoption events, want %d", n, rounds)
			}
		})
	}
}
