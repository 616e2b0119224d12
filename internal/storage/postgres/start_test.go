package postgres_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/postgres"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
)

// start is a login of user at `at` with a cap of maxLive, the session's event and cap events.
func start(ctx context.Context, st storage.Store, user string, at time.Time, maxLive int) (storage.Session, []storage.Revocation, error) {
	s := storage.Session{ID: storagetest.NewID(), UserID: user, CreateTime: at, RefreshTime: at, ExpireTime: at.Add(time.Hour)}
	gen, revs, err := st.StartSession(ctx, storage.SessionStart{
		Session: s, MaxLive: maxLive, CapReason: "session cap",
		Events:   []storage.Event{{Time: at, Kind: storage.EventSessionCreated, UserID: user, SessionID: s.ID}},
		CapEvent: storage.Event{Time: at, Kind: storage.EventSessionRevoked, UserID: user, Reason: "session cap"},
	})
	s.Generation = gen
	return s, revs, err
}

// TestStartSessionAtCap covers the failures of a login that has to revoke, which the backend runs as a
// statement of its own: nothing is written.
func TestStartSessionAtCap(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := mustUser(t, st)
	first, _, err := start(ctx, st, u.ID, base, 1)
	if err != nil {
		t.Fatal(err)
	}
	before := lastSeq(t, st)
	// The session id exists and the account is at its cap: ErrConflict, nothing revoked, no events.
	_, _, err = st.StartSession(ctx, storage.SessionStart{
		Session: storage.Session{ID: first.ID, UserID: u.ID, CreateTime: base, ExpireTime: base.Add(time.Hour)},
		MaxLive: 1, CapReason: "session cap",
		Events:   []storage.Event{{Time: base, Kind: storage.EventLoginLocked, UserID: u.ID}},
		CapEvent: storage.Event{Time: base, Kind: storage.EventSessionRevoked, UserID: u.ID},
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Fatalf("StartSession(existing id at the cap) = %v, want ErrConflict", err)
	}
	if got := lastSeq(t, st); got != before {
		t.Errorf("feed at %d after a failed login, want %d", got, before)
	}
	if s, err := st.SessionByID(ctx, first.ID); err != nil || s.Revoked() {
		t.Errorf("session after a failed login = %+v, %v; want it live", s, err)
	}
	evs, err := st.ListEvents(ctx, u.ID, 0, 10)
	if err != nil || len(evs) != 1 {
		t.Errorf("events after a failed login = %+v, %v; want the first login's only", evs, err)
	}
}

// TestStartSessionRaces runs logins at and under the cap concurrently with account cuts, refreshes and
// revocations of the same account, and checks what they leave: no deadlock, the feed entries the logins
// returned, one cap event for each, and the sessions ended exactly as the latest cut and the caps say.
func TestStartSessionRaces(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := mustUser(t, st)
	const rounds, logins, maxLive = 6, 8, 3
	type login struct {
		s    storage.Session
		revs []storage.Revocation
	}
	var all []login
	var mu sync.Mutex
	for round := range rounds {
		at := base.Add(time.Duration(round+1) * time.Minute)
		prev := all
		errs := race(logins+3, func(i int) error {
			switch i {
			case 0:
				if round%2 == 1 {
					_, _, err := st.RevokeUserSessions(ctx, u.ID, "", "logout_all", at)
					return err
				}
				_, err := st.RevokeOldestSessions(ctx, u.ID, "", maxLive, "oldest", at)
				return err
			case 1, 2:
				if len(prev) == 0 {
					return nil
				}
				s := prev[len(prev)-i].s
				if i == 1 {
					_, err := st.RevokeSession(ctx, s.ID, "logout", at)
					return err
				}
				_, err := st.RefreshSession(ctx, storage.SessionRefresh{ID: s.ID, ExpectSeq: storage.AnySeq, RefreshTime: at, ExpireTime: at.Add(2 * time.Hour)})
				if errors.Is(err, storage.ErrConflict) {
					return nil // ended first
				}
				return err
			}
			// Half the logins have no cap, so that the two statements of StartSession race each other.
			limit := maxLive
			if i%2 == 0 {
				limit = 0
			}
			s, revs, err := start(ctx, st, u.ID, at, limit)
			mu.Lock()
			all = append(all, login{s, revs})
			mu.Unlock()
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
	}

	feed, err := st.RevocationsSince(ctx, 0, base, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	bySeq := make(map[int64]storage.Revocation)
	var lastCut *storage.Revocation
	for i, r := range feed {
		bySeq[r.Seq] = r
		if r.IsCut() {
			lastCut = &feed[i]
		}
	}
	capped := make(map[string]bool) // sessions a login's cap revoked
	for _, l := range all {
		for _, r := range l.revs {
			if r.SessionID == l.s.ID {
				t.Errorf("login %s revoked its own session", l.s.ID)
			}
			if got, ok := bySeq[r.Seq]; !ok || got.SessionID != r.SessionID || !got.ExpireTime.Equal(r.ExpireTime) {
				t.Errorf("login %s returned %+v; the feed holds %+v", l.s.ID, r, got)
			}
			if capped[r.SessionID] {
				t.Errorf("session %s revoked by two caps", r.SessionID)
			}
			capped[r.SessionID] = true
		}
	}
	if len(capped) == 0 {
		t.Error("no login revoked anything: the race never ran a login at its cap")
	}
	var capEvents int
	evs, err := st.ListEvents(ctx, u.ID, 0, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		if ev.Kind == storage.EventSessionRevoked {
			capEvents++
			if !capped[ev.SessionID] {
				t.Errorf("cap event for session %s, which no login revoked", ev.SessionID)
			}
		}
	}
	if capEvents != len(capped) {
		t.Errorf("%d cap events for %d sessions revoked by the cap", capEvents, len(capped))
	}
	for _, l := range all {
		got := mustSessionByID(t, st, l.s.ID)
		if got.Generation != l.s.Generation {
			t.Errorf("session %s: generation %d, StartSession said %d", l.s.ID, got.Generation, l.s.Generation)
		}
		if capped[l.s.ID] {
			if got.RevokeReason != "session cap" {
				t.Errorf("session %s: revoked for %q, want the cap", l.s.ID, got.RevokeReason)
			}
			continue
		}
		if got.Revoked() && got.RevokeReason == "logout_all" && (lastCut == nil || !lastCut.Ends(u.ID, l.s.ID, l.s.Generation)) {
			t.Errorf("session %s (generation %d) reads as cut, but the last cut %+v spares it", l.s.ID, l.s.Generation, lastCut)
		}
		if lastCut != nil && lastCut.Ends(u.ID, l.s.ID, l.s.Generation) && !got.Revoked() {
			t.Errorf("session %s (generation %d) is live, but the last cut %+v ends it", l.s.ID, l.s.Generation, lastCut)
		}
	}
	if n := deadlocks(t, st); n != 0 {
		t.Errorf("%d deadlocks", n)
	}
}

// deadlocks returns how many deadlocks PostgreSQL detected in the store's database.
func deadlocks(t *testing.T, st *postgres.Store) int64 {
	t.Helper()
	var n int64
	err := st.Pool().QueryRow(t.Context(), `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// lastSeq returns the feed's highest seq.
func lastSeq(t *testing.T, st storage.Store) int64 {
	t.Helper()
	feed, err := st.RevocationsSince(t.Context(), 0, base, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) == 0 {
		return 0
	}
	return feed[len(feed)-1].Seq
}

func mustSessionByID(t *testing.T, st storage.Store, id string) *storage.Session {
	t.Helper()
	s, err := st.SessionByID(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionByID(%s): %v", id, err)
	}
	return s
}

// race runs f(0) to f(n-1) at once and returns their errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-begin
			errs[i] = f(i)
		})
	}
	close(begin)
	wg.Wait()
	return errs
}

// TestStartSessionMostlyAtCap makes most logins find their account at its cap, after which the backend
// runs the login that can revoke at once, and checks that it answers as the usual one does.
func TestStartSessionMostlyAtCap(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := mustUser(t, st)
	for i := range 300 {
		at := base.Add(time.Duration(i) * time.Second)
		_, revs, err := start(ctx, st, u.ID, at, 1)
		if err != nil || (i > 0 && len(revs) != 1) {
			t.Fatalf("login %d at the cap = %+v, %v; want one session revoked", i, revs, err)
		}
	}
	at := base.Add(time.Hour)
	other := mustUser(t, st)
	s, revs, err := start(ctx, st, other.ID, at, 1)
	if err != nil || len(revs) != 0 {
		t.Errorf("login with room = %+v, %v; want nothing revoked", revs, err)
	}
	if got := mustSessionByID(t, st, s.ID); got.Revoked() || got.Generation != s.Generation {
		t.Errorf("session of a login with room = %+v, want it live in generation %d", got, s.Generation)
	}
	if _, _, err := start(ctx, st, storagetest.NewID(), at, 1); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("login of an unknown user = %v, want ErrNotFound", err)
	}
	before := lastSeq(t, st)
	_, _, err = st.StartSession(ctx, storage.SessionStart{
		Session: storage.Session{ID: s.ID, UserID: u.ID, CreateTime: at, ExpireTime: at.Add(time.Hour)}, MaxLive: 1,
		CapReason: "session cap", CapEvent: storage.Event{Time: at, Kind: storage.EventSessionRevoked, UserID: u.ID},
	})
	if !errors.Is(err, storage.ErrConflict) {
		t.Errorf("login with a session id that exists = %v, want ErrConflict", err)
	}
	if got := lastSeq(t, st); got != before {
		t.Errorf("feed at %d after a failed login, want %d", got, before)
	}
}
