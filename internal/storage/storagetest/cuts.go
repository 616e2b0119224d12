package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// mustCut runs RevokeUserSessions and checks the entry it returns against the feed: one new entry after
// the feed's seq `after`, the cut itself.
func mustCut(t *testing.T, st storage.Store, userID, keep, reason string, at time.Time) (*storage.Revocation, int) {
	t.Helper()
	ctx := t.Context()
	before := lastSeq(t, st)
	rev, n, err := st.RevokeUserSessions(ctx, userID, keep, reason, at)
	if err != nil {
		t.Fatalf("RevokeUserSessions(%s, keep %q): %v", userID, keep, err)
	}
	if rev == nil {
		if n != 0 {
			t.Errorf("RevokeUserSessions ended %d sessions without a feed entry", n)
		}
		if got := lastSeq(t, st); got != before {
			t.Errorf("RevokeUserSessions that ended nothing moved the feed from %d to %d", before, got)
		}
		return nil, 0
	}
	if !rev.IsCut() || rev.UserID != userID || rev.Seq <= before || rev.Generation < 1 {
		t.Errorf("cut = %+v; want an account cut of %s after seq %d", *rev, userID, before)
	}
	checkTime(t, "cut RevokeTime", rev.RevokeTime, at)
	feed, err := st.RevocationsSince(ctx, before, base, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 1 || feed[0].Generation != rev.Generation || feed[0].Keep != rev.Keep {
		t.Errorf("feed after the cut = %+v; want only %+v", feed, *rev)
	}
	checkRevocations(t, feed, []storage.Revocation{*rev})
	return rev, n
}

// lastSeq returns the highest seq the feed holds (0 when empty), reading it with an early `now` so that
// no entry is filtered out as expired.
func lastSeq(t *testing.T, st storage.Store) int64 {
	t.Helper()
	var seq int64
	for {
		revs, err := st.RevocationsSince(t.Context(), seq, base.Add(-24*time.Hour), 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(revs) == 0 {
			return seq
		}
		seq = revs[len(revs)-1].Seq
	}
}

func testRevokeUserSessions(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	bystander := mustUser(t, st, "bystander")
	at := base.Add(time.Hour)
	live1 := mustSession(t, st, u.ID, base, at.Add(time.Hour))
	kept := mustSession(t, st, u.ID, base, at.Add(time.Hour))
	live2 := mustSession(t, st, u.ID, base.Add(time.Minute), at.Add(2*time.Hour))
	expired := mustSession(t, st, u.ID, base, at) // not after `at`
	earlier := mustSession(t, st, u.ID, base, at.Add(time.Hour))
	if _, err := st.RevokeSession(ctx, earlier.ID, "logout", base); err != nil {
		t.Fatal(err)
	}
	foreign := mustSession(t, st, bystander.ID, base, at.Add(time.Hour))

	cut, n := mustCut(t, st, u.ID, kept.ID, "logout_all", at)
	if cut == nil || n != 2 || cut.Keep != kept.ID || cut.Generation <= live1.Generation {
		t.Fatalf("cut = %+v, %d ended; want live1 and live2 ended, %s kept", cut, n, kept.ID)
	}
	checkTime(t, "cut ExpireTime (the latest of the ended sessions')", cut.ExpireTime, live2.ExpireTime)
	for _, s := range []*storage.Session{live1, live2, expired, kept} {
		if want := s != kept; !cut.Ends(u.ID, s.ID, s.Generation) != !want {
			t.Errorf("cut.Ends(%s) = %v, want %v", s.ID, !want, want)
		}
	}
	if cut.Ends(bystander.ID, foreign.ID, foreign.Generation) {
		t.Error("the cut ends another user's session")
	}
	checkRevokeReasons(t, st, []revokeCase{
		{live1, "logout_all"}, {live2, "logout_all"}, {kept, ""}, {expired, "logout_all"}, {earlier, "logout"}, {foreign, ""},
	})
	checkTime(t, "ended session's RevokeTime", mustSessionByID(t, st, live1.ID).RevokeTime, at)

	// An ended session is ended for every method: not listed, not refreshed, not revoked again, not
	// counted by the session cap.
	if list, err := st.ListUserSessions(ctx, u.ID, at, storage.SessionCursor{}, 10); err != nil || len(list) != 1 || list[0].ID != kept.ID {
		t.Errorf("ListUserSessions after the cut = %+v, %v; want only %s", list, err, kept.ID)
	}
	_, err := st.RefreshSession(ctx, storage.SessionRefresh{ID: live1.ID, ExpectSeq: storage.AnySeq, RefreshTime: at, ExpireTime: at.Add(5 * time.Hour)})
	checkErr(t, "RefreshSession of an ended session", err, storage.ErrConflict)
	if rev, err := st.RevokeSession(ctx, live1.ID, "logout", at); err != nil || rev != nil {
		t.Errorf("RevokeSession of an ended session = %+v, %v; want nothing", rev, err)
	}
	if revs, err := st.RevokeOldestSessions(ctx, u.ID, "", 1, "session cap", at); err != nil || len(revs) != 0 {
		t.Errorf("RevokeOldestSessions(keep 1) with one live session = %+v, %v; want nothing", revs, err)
	}

	// A session created after the cut is in the new generation and live.
	after := mustSession(t, st, u.ID, at, at.Add(3*time.Hour))
	if after.Generation != cut.Generation {
		t.Errorf("session created after the cut has generation %d, want %d", after.Generation, cut.Generation)
	}
	if cut.Ends(u.ID, after.ID, after.Generation) || mustSessionByID(t, st, after.ID).Revoked() {
		t.Error("the cut ends a session created after it")
	}
	if _, err := st.RefreshSession(ctx, storage.SessionRefresh{ID: after.ID, ExpectSeq: 0, RefreshTime: at, ExpireTime: at.Add(4 * time.Hour)}); err != nil {
		t.Errorf("RefreshSession of a session created after the cut: %v", err)
	}

	// Keeping the kept session again spares it again, and ends the newer one.
	cut2, n := mustCut(t, st, u.ID, kept.ID, "logout others", at.Add(time.Minute))
	if cut2 == nil || n != 1 || cut2.Keep != kept.ID || cut2.Generation <= cut.Generation {
		t.Fatalf("second cut = %+v, %d ended; want %s ended, %s kept", cut2, n, after.ID, kept.ID)
	}
	checkTime(t, "second cut ExpireTime", cut2.ExpireTime, at.Add(4*time.Hour))
	checkRevokeReasons(t, st, []revokeCase{{kept, ""}, {after, "logout others"}, {earlier, "logout"}})

	// Naming an ended session as the one to keep does not bring it back.
	cut3, n := mustCut(t, st, u.ID, live1.ID, "ban", at.Add(2*time.Minute))
	if cut3 == nil || n != 1 || cut3.Keep != "" {
		t.Fatalf("third cut = %+v, %d ended; want %s ended and nothing kept", cut3, n, kept.ID)
	}
	for _, s := range []*storage.Session{live1, kept, after} {
		if !mustSessionByID(t, st, s.ID).Revoked() {
			t.Errorf("session %s is live after a cut that kept nothing", s.ID)
		}
	}

	// Nothing live: nothing written.
	if rev, _ := mustCut(t, st, u.ID, "", "ban", at.Add(3*time.Minute)); rev != nil {
		t.Errorf("cut of an account without live sessions = %+v; want nothing", *rev)
	}
	if rev, _ := mustCut(t, st, NewID(), "", "ban", at); rev != nil {
		t.Errorf("cut of an unknown user = %+v; want nothing", *rev)
	}
	if mustSessionByID(t, st, foreign.ID).Revoked() {
		t.Error("another user's session was ended")
	}
}

// testCutOutlivesUser checks that a cut's feed entry outlives the account, as single revocations do, so
// that every node keeps refusing the ended sessions' tokens after the account is deleted.
func testCutOutlivesUser(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	s := mustSession(t, st, u.ID, base, base.Add(time.Hour))
	cut, _ := mustCut(t, st, u.ID, "", "account deleted", base)
	if err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	feed, err := st.RevocationsSince(ctx, cut.Seq-1, base, 10)
	if err != nil || len(feed) != 1 || !feed[0].Ends(u.ID, s.ID, s.Generation) {
		t.Errorf("feed after deleting the account = %+v, %v; want the cut ending %s", feed, err, s.ID)
	}
}

// testCutRacesSessions races account cuts with logins and refreshes of the same account. Whatever the
// interleaving, every session a cut ended is ended in the store (SessionByID, RefreshSession) and covered
// in the feed: some cut entry ends it with an ExpireTime at or after the session's, so that its tokens,
// including those of a refresh that raced the cut, stay refused until they expire. Sessions no cut ended
// stay live.
func testCutRacesSessions(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	const rounds, logins = 6, 6
	var refreshable []*storage.Session
	for range logins {
		refreshable = append(refreshable, mustSession(t, st, u.ID, base, base.Add(time.Hour)))
	}
	var created []*storage.Session
	for round := range rounds {
		at := base.Add(time.Duration(round+1) * time.Minute)
		fresh := make([]*storage.Session, logins)
		errs := race(2*logins+1, func(i int) error {
			switch {
			case i == 0:
				_, _, err := st.RevokeUserSessions(ctx, u.ID, "", "logout_all", at)
				return err
			case i <= logins:
				s := storage.Session{ID: NewID(), UserID: u.ID, CreateTime: at, RefreshTime: at, ExpireTime: at.Add(time.Hour)}
				gen, err := st.CreateSession(ctx, s)
				s.Generation = gen
				fresh[i-1] = &s
				return err
			default:
				s := refreshable[i-logins-1]
				_, err := st.RefreshSession(ctx, storage.SessionRefresh{
					ID: s.ID, ExpectSeq: storage.AnySeq, RefreshTime: at, ExpireTime: at.Add(time.Duration(10+round) * time.Hour),
				})
				if errors.Is(err, storage.ErrConflict) {
					return nil // the cut ended it first
				}
				return err
			}
		})
		for _, err := range errs {
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		created = append(created, fresh...)
		refreshable = fresh
	}
	feed, err := st.RevocationsSince(ctx, 0, base, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	var last *storage.Revocation
	for i := range feed {
		if feed[i].UserID == u.ID && feed[i].IsCut() {
			last = &feed[i]
		}
	}
	if last == nil {
		t.Fatal("no cut in the feed")
	}
	for _, s := range created {
		got := mustSessionByID(t, st, s.ID)
		if got.Generation != s.Generation {
			t.Errorf("session %s: generation %d, CreateSession said %d", s.ID, got.Generation, s.Generation)
		}
		ended := last.Ends(u.ID, s.ID, s.Generation)
		if got.Revoked() != ended {
			t.Errorf("session %s (generation %d, last cut %d): revoked %v, want %v", s.ID, s.Generation, last.Generation, got.Revoked(), ended)
		}
		if !ended {
			continue
		}
		covered := false
		for _, r := range feed {
			if r.IsCut() && r.Ends(u.ID, s.ID, s.Generation) && !r.ExpireTime.Before(got.ExpireTime) {
				covered = true
			}
		}
		if !covered {
			t.Errorf("session %s (generation %d, expires %v) is ended but no cut in the feed covers it until then: %s",
				s.ID, s.Generation, got.ExpireTime, fmt.Sprint(feed))
		}
	}
}
