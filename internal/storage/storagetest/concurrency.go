package storagetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// racers is how many goroutines contend in each race: enough to overlap on any backend, few enough to keep
// the suite fast under the race detector.
const racers = 12

// race runs f(i) for i in [0, n) at once, released together, and returns their errors by index.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// Follow reads a feed the way its followers do, resuming after the highest seq it has read: it calls poll
// with that seq, over and over until done is closed and then until poll returns nothing, and returns every
// entry it read, in order. It stops at poll's first error, or at an entry whose seq is not above the one
// before it.
func Follow[E any](done <-chan struct{}, seq func(E) int64, poll func(after int64) ([]E, error)) ([]E, error) {
	var all []E
	var after int64
	for {
		// done is checked before the poll, so that the poll which ends the loop started after every write.
		draining := false
		select {
		case <-done:
			draining = true
		default:
		}
		entries, err := poll(after)
		if err != nil {
			return all, err
		}
		for _, e := range entries {
			if s := seq(e); s <= after {
				return all, fmt.Errorf("seq %d read after %d", s, after)
			}
			after = seq(e)
		}
		all = append(all, entries...)
		if draining && len(entries) == 0 {
			return all, nil
		}
	}
}

// tally checks that exactly one call succeeded and every other one failed with loser; it returns the
// winner's index.
func tally(t *testing.T, what string, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner < 0:
			winner = i
		case err == nil:
			t.Errorf("%s: calls %d and %d both succeeded", what, winner, i)
		case !errors.Is(err, loser):
			t.Errorf("%s: call %d: error = %v, want %v", what, i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("%s: no call succeeded", what)
	}
	return winner
}

func testConcurrentRefresh(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	s := mustSession(t, st, u.ID, base, base.Add(time.Hour))
	results := make([]*storage.Session, racers)
	errs := race(racers, func(i int) error {
		var err error
		results[i], err = st.RefreshSession(ctx, storage.SessionRefresh{
			ID: s.ID, ExpectSeq: 0, RefreshTime: base.Add(time.Minute), ExpireTime: base.Add(time.Duration(2+i) * time.Hour),
			Vars: map[string]string{"winner": fmt.Sprint(i)},
		})
		return err
	})
	w := tally(t, "RefreshSession at one seq", errs, storage.ErrConflict)
	got := mustSessionByID(t, st, s.ID)
	if got.RefreshSeq != 1 || got.Vars["winner"] != fmt.Sprint(w) {
		t.Errorf("session after the race: seq %d vars %v; want seq 1 and the winner %d's vars", got.RefreshSeq, got.Vars, w)
	}
	checkTime(t, "ExpireTime", got.ExpireTime, base.Add(time.Duration(2+w)*time.Hour))
}

func testConcurrentRevoke(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	s := mustSession(t, st, u.ID, base, base.Add(time.Hour))
	revs := make([]*storage.Revocation, racers)
	errs := race(racers, func(i int) error {
		var err error
		revs[i], err = st.RevokeSession(ctx, s.ID, "logout", base.Add(time.Minute))
		return err
	})
	entries := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("RevokeSession %d: %v", i, err)
		}
		if revs[i] != nil {
			entries++
		}
	}
	if entries != 1 {
		t.Errorf("%d of %d concurrent RevokeSession calls returned a feed entry, want 1", entries, racers)
	}
	feed, err := st.RevocationsSince(ctx, 0, base, 100)
	if err != nil || len(feed) != 1 {
		t.Errorf("feed = %+v, %v; want one entry", feed, err)
	}
}

func testConcurrentCreateSameDevice(t *testing.T, st storage.Store) {
	for _, sameName := range []bool{false, true} {
		t.Run(fmt.Sprintf("same username %v", sameName), func(t *testing.T) {
			ctx := t.Context()
			device := identityFor(storage.IdentityDevice)
			users := make([]storage.NewUser, racers)
			for i := range users {
				users[i] = storage.NewUser{ID: NewID(), Username: fmt.Sprintf("racer_%v_%d", sameName, i), Kind: storage.IdentityDevice, Identity: device, Time: base}
				if sameName {
					users[i].Username = fmt.Sprintf("racer_%v", sameName)
				}
			}
			errs := race(racers, func(i int) error {
				_, err := st.CreateUser(ctx, users[i])
				return err
			})
			w := tally(t, "CreateUser with one device id", errs, storage.ErrIdentityTaken)
			owner, err := st.UserByIdentity(ctx, storage.IdentityDevice, device)
			if err != nil {
				t.Fatalf("UserByIdentity: %v", err)
			}
			if owner.ID != users[w].ID {
				t.Errorf("device owner = %s, want the winner %s", owner.ID, users[w].ID)
			}
			for i, nu := range users {
				if i == w {
					continue
				}
				if _, err := st.UserByID(ctx, nu.ID); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("loser %d exists: %v", i, err)
				}
				if !sameName {
					if _, err := st.UserByUsername(ctx, nu.Username); !errors.Is(err, storage.ErrNotFound) {
						t.Errorf("loser %d's username exists: %v", i, err)
					}
				}
			}
		})
	}
}

func testConcurrentCreateSameUsername(t *testing.T, st storage.Store) {
	ctx := t.Context()
	users := make([]storage.NewUser, racers)
	for i := range users {
		kind := kinds[i%len(kinds)]
		users[i] = storage.NewUser{ID: NewID(), Username: "contested", Kind: kind, Identity: identityFor(kind), Time: base}
	}
	errs := race(racers, func(i int) error {
		_, err := st.CreateUser(ctx, users[i])
		return err
	})
	w := tally(t, "CreateUser with one username", errs, storage.ErrUsernameTaken)
	got, err := st.UserByUsername(ctx, "contested")
	if err != nil {
		t.Fatalf("UserByUsername: %v", err)
	}
	if got.ID != users[w].ID {
		t.Errorf("username owner = %s, want the winner %s", got.ID, users[w].ID)
	}
	for i, nu := range users {
		if i != w {
			absent(t, st, nu.ID, nu.Kind, nu.Identity)
		}
	}
}

// testRefreshRacesRevoke checks that a revocation always wins over a concurrent refresh: afterwards the
// session is revoked, cannot be refreshed at its latest seq, and its feed entry's ExpireTime covers every
// token the refresh may have issued.
func testRefreshRacesRevoke(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	const rounds = 8
	for round := range rounds {
		s := mustSession(t, st, u.ID, base, base.Add(time.Hour))
		var rev *storage.Revocation
		errs := race(2, func(i int) error {
			if i == 0 {
				_, err := st.RefreshSession(ctx, storage.SessionRefresh{
					ID: s.ID, ExpectSeq: 0, RefreshTime: base.Add(time.Minute), ExpireTime: base.Add(3 * time.Hour),
				})
				if errors.Is(err, storage.ErrConflict) {
					return nil // the revocation got there first
				}
				return err
			}
			var err error
			rev, err = st.RevokeSession(ctx, s.ID, "logout", base.Add(time.Minute))
			return err
		})
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		got := mustSessionByID(t, st, s.ID)
		if !got.Revoked() {
			t.Fatalf("round %d: session not revoked", round)
		}
		if rev == nil {
			t.Fatalf("round %d: RevokeSession returned no feed entry", round)
		}
		checkTime(t, "feed ExpireTime", rev.ExpireTime, got.ExpireTime)
		_, err := st.RefreshSession(ctx, storage.SessionRefresh{
			ID: s.ID, ExpectSeq: got.RefreshSeq, RefreshTime: base.Add(2 * time.Minute), ExpireTime: base.Add(4 * time.Hour),
		})
		checkErr(t, fmt.Sprintf("round %d: RefreshSession at the latest seq after revoke", round), err, storage.ErrConflict)
	}
}

// testConcurrentLinkSameIdentity races accounts to link one identity: exactly one gets it, and every other
// one is told it is taken, not given a generic error.
func testConcurrentLinkSameIdentity(t *testing.T, st storage.Store) {
	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			ctx := t.Context()
			identity := identityFor(kind)
			users := make([]*storage.User, racers)
			for i := range users {
				users[i] = mustUser(t, st, fmt.Sprintf("linker_%v_%d", kind, i))
			}
			errs := race(racers, func(i int) error {
				return st.LinkIdentity(ctx, users[i].ID, kind, identity, passwordFor(kind, i), base.Add(time.Minute))
			})
			w := tally(t, "LinkIdentity of one "+kind.String(), errs, storage.ErrIdentityTaken)
			ownerIs(t, st, kind, identity, users[w].ID)
			for i, u := range users {
				if i != w {
					checkUser(t, mustUserByID(t, st, u.ID), u)
				}
			}
		})
	}
}

// testConcurrentUnlinkLastTwo unlinks an account's last two identities at once, over several rounds: one
// unlink must fail with ErrLastIdentity, whichever runs second, so that the account keeps one identity. The
// pairs cover two device rows (which a check reading a stale snapshot would miss), a device and a column,
// and two columns.
func testConcurrentUnlinkLastTwo(t *testing.T, st storage.Store) {
	pairs := [][2]storage.IdentityKind{
		{storage.IdentityDevice, storage.IdentityDevice},
		{storage.IdentityDevice, storage.IdentitySteam},
		{storage.IdentityEmail, storage.IdentityCustom},
	}
	const rounds = 8
	for _, pair := range pairs {
		t.Run(pair[0].String()+"+"+pair[1].String(), func(t *testing.T) {
			ctx := t.Context()
			for round := range rounds {
				identities := [2]string{identityFor(pair[0]), identityFor(pair[1])}
				u, err := st.CreateUser(ctx, storage.NewUser{ID: NewID(), Username: fmt.Sprintf("pair_%v_%v_%d", pair[0], pair[1], round),
					Kind: pair[0], Identity: identities[0], Password: passwordFor(pair[0], 0), Time: base})
				if err != nil {
					t.Fatalf("CreateUser: %v", err)
				}
				if err := st.LinkIdentity(ctx, u.ID, pair[1], identities[1], passwordFor(pair[1], 0), base); err != nil {
					t.Fatalf("LinkIdentity: %v", err)
				}
				errs := race(2, func(i int) error {
					return st.UnlinkIdentity(ctx, u.ID, pair[i], identities[i], base.Add(time.Minute))
				})
				w := tally(t, fmt.Sprintf("round %d: UnlinkIdentity of the last two", round), errs, storage.ErrLastIdentity)
				got := mustUserByID(t, st, u.ID)
				if n := got.IdentityCount(); n != 1 {
					t.Fatalf("round %d: account has %d identities after the race, want 1: %+v", round, n, got)
				}
				kept := 1 - w
				if !got.Holds(pair[kept], identities[kept]) {
					t.Errorf("round %d: account lost %v %s, which the losing unlink named", round, pair[kept], identities[kept])
				}
			}
		})
	}
}
