package storagetest

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

func testCreateSession(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	tests := []struct {
		name string
		sess storage.Session
	}{
		{"with vars", storage.Session{
			ID: NewID(), UserID: u.ID, CreateTime: base, RefreshTime: base, ExpireTime: base.Add(time.Hour),
			Vars: map[string]string{"a": "1", "b": "two"}, UserAgent: "agent/1.0", ClientIP: "2001:db8::1",
		}},
		{"bare", storage.Session{
			ID: NewID(), UserID: u.ID, CreateTime: base, RefreshTime: base, ExpireTime: base.Add(time.Hour),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := st.CreateSession(ctx, tt.sess); err != nil {
				t.Fatalf("CreateSession: %v", err)
			}
			got := mustSessionByID(t, st, tt.sess.ID)
			checkSession(t, got, &tt.sess)
			if got.Revoked() {
				t.Error("new session is revoked")
			}
		})
	}

	_, err := st.CreateSession(ctx, storage.Session{
		ID: NewID(), UserID: NewID(), CreateTime: base, RefreshTime: base, ExpireTime: base.Add(time.Hour),
	})
	checkErr(t, "CreateSession(unknown user)", err, storage.ErrNotFound)
	_, err = st.SessionByID(ctx, NewID())
	checkErr(t, "SessionByID(unknown)", err, storage.ErrNotFound)
}

func testRefreshSession(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	s := mustSession(t, st, u.ID, base, base.Add(time.Hour))

	t1 := base.Add(10 * time.Minute)
	r := storage.SessionRefresh{ID: s.ID, ExpectSeq: 0, RefreshTime: t1, ExpireTime: t1.Add(time.Hour), Vars: map[string]string{"k": "new"}}
	got, err := st.RefreshSession(ctx, r)
	if err != nil {
		t.Fatalf("RefreshSession: %v", err)
	}
	want := *s
	want.RefreshSeq, want.RefreshTime, want.ExpireTime, want.Vars = 1, t1, t1.Add(time.Hour), r.Vars
	checkSession(t, got, &want)
	checkSession(t, mustSessionByID(t, st, s.ID), &want)

	// The same expectation again is stale.
	_, err = st.RefreshSession(ctx, r)
	checkErr(t, "RefreshSession at a stale seq", err, storage.ErrConflict)
	checkSession(t, mustSessionByID(t, st, s.ID), &want)

	r.ExpectSeq, r.RefreshTime = 1, t1.Add(time.Minute)
	if got, err = st.RefreshSession(ctx, r); err != nil {
		t.Fatalf("RefreshSession at seq 1: %v", err)
	}
	if got.RefreshSeq != 2 {
		t.Errorf("RefreshSeq = %d, want 2", got.RefreshSeq)
	}
	// AnySeq applies whatever the current seq, and still counts.
	r.ExpectSeq, r.RefreshTime = storage.AnySeq, t1.Add(90*time.Second)
	if got, err = st.RefreshSession(ctx, r); err != nil {
		t.Fatalf("RefreshSession(AnySeq): %v", err)
	}
	if got.RefreshSeq != 3 {
		t.Errorf("RefreshSeq after AnySeq = %d, want 3", got.RefreshSeq)
	}

	_, err = st.RefreshSession(ctx, storage.SessionRefresh{ID: NewID(), RefreshTime: t1, ExpireTime: t1.Add(time.Hour)})
	checkErr(t, "RefreshSession(unknown)", err, storage.ErrNotFound)

	// A revoked session cannot be refreshed even at its current seq.
	if _, err := st.RevokeSession(ctx, s.ID, "logout", t1.Add(2*time.Minute)); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	r.ExpectSeq, r.RefreshTime = 3, t1.Add(3*time.Minute)
	_, err = st.RefreshSession(ctx, r)
	checkErr(t, "RefreshSession(revoked)", err, storage.ErrConflict)
	r.ExpectSeq = storage.AnySeq
	_, err = st.RefreshSession(ctx, r)
	checkErr(t, "RefreshSession(revoked, AnySeq)", err, storage.ErrConflict)

	// Nor can a session past its ExpireTime: it is no longer live.
	old := mustSession(t, st, u.ID, base, base.Add(time.Minute))
	_, err = st.RefreshSession(ctx, storage.SessionRefresh{ID: old.ID, RefreshTime: base.Add(2 * time.Minute), ExpireTime: base.Add(time.Hour)})
	checkErr(t, "RefreshSession(expired)", err, storage.ErrConflict)
}

func testRevokeSession(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	s := mustSession(t, st, u.ID, base, base.Add(time.Hour))
	other := mustSession(t, st, u.ID, base, base.Add(time.Hour))
	at := base.Add(time.Minute)

	rev, err := st.RevokeSession(ctx, s.ID, "logout", at)
	if err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if rev == nil {
		t.Fatal("RevokeSession returned no feed entry")
	}
	if rev.Seq <= 0 || rev.SessionID != s.ID || rev.UserID != u.ID {
		t.Errorf("Revocation = %+v, want seq > 0, session %s, user %s", *rev, s.ID, u.ID)
	}
	checkTime(t, "Revocation.ExpireTime", rev.ExpireTime, s.ExpireTime)
	checkTime(t, "Revocation.RevokeTime", rev.RevokeTime, at)

	want := *s
	want.RevokeTime, want.RevokeReason = at, "logout"
	got := mustSessionByID(t, st, s.ID)
	checkSession(t, got, &want)
	if !got.Revoked() {
		t.Error("session not revoked")
	}
	if mustSessionByID(t, st, other.ID).Revoked() {
		t.Error("another session of the user was revoked")
	}

	// Revoking again changes nothing and adds no feed entry.
	again, err := st.RevokeSession(ctx, s.ID, "ban", at.Add(time.Minute))
	if err != nil || again != nil {
		t.Errorf("second RevokeSession = %+v, %v; want nil, nil", again, err)
	}
	checkSession(t, mustSessionByID(t, st, s.ID), &want)
	feed, err := st.RevocationsSince(ctx, 0, base, 100)
	if err != nil {
		t.Fatalf("RevocationsSince: %v", err)
	}
	checkRevocations(t, feed, []storage.Revocation{*rev})

	_, err = st.RevokeSession(ctx, NewID(), "logout", at)
	checkErr(t, "RevokeSession(unknown)", err, storage.ErrNotFound)
}

func testListUserSessions(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	bystander := mustUser(t, st, "bystander")
	now := base.Add(time.Hour)
	oldest := mustSession(t, st, u.ID, base, now.Add(time.Hour))
	newest := mustSession(t, st, u.ID, base.Add(2*time.Minute), now.Add(time.Hour))
	middle := mustSession(t, st, u.ID, base.Add(time.Minute), now.Add(time.Hour))
	revoked := mustSession(t, st, u.ID, base.Add(3*time.Minute), now.Add(time.Hour))
	if _, err := st.RevokeSession(ctx, revoked.ID, "logout", base.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	mustSession(t, st, u.ID, base.Add(5*time.Minute), now) // expired at now
	mustSession(t, st, bystander.ID, base.Add(6*time.Minute), now.Add(time.Hour))

	got, err := st.ListUserSessions(ctx, u.ID, now, storage.SessionCursor{}, 100)
	if err != nil {
		t.Fatalf("ListUserSessions: %v", err)
	}
	want := []*storage.Session{newest, middle, oldest}
	if len(got) != len(want) {
		t.Fatalf("ListUserSessions returned %d sessions, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		checkSession(t, &got[i], want[i])
	}

	if got, err := st.ListUserSessions(ctx, NewID(), now, storage.SessionCursor{}, 100); err != nil || len(got) != 0 {
		t.Errorf("ListUserSessions(unknown user) = %+v, %v; want none", got, err)
	}
	if got, err := st.ListUserSessions(ctx, u.ID, now, storage.SessionCursor{}, 0); err != nil || len(got) != 0 {
		t.Errorf("ListUserSessions(limit 0) = %+v, %v; want none", got, err)
	}
}

// testListUserSessionsPages walks a list whose sessions share creation times, page by page from the
// cursor of each page's last session, and expects every live session once, in order.
func testListUserSessionsPages(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	now := base.Add(time.Hour)
	var want []*storage.Session
	for i := range 7 {
		// Three sessions per millisecond, so that ties are broken by id.
		want = append(want, mustSession(t, st, u.ID, base.Add(time.Duration(i/3)*time.Millisecond), now.Add(time.Hour)))
	}
	slices.SortFunc(want, func(a, b *storage.Session) int {
		if c := b.CreateTime.Compare(a.CreateTime); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	for _, limit := range []int{1, 2, 3, 7, 8} {
		var got []storage.Session
		after := storage.SessionCursor{}
		for page := 0; ; page++ {
			if page > len(want) {
				t.Fatalf("limit %d: more pages than sessions", limit)
			}
			batch, err := st.ListUserSessions(ctx, u.ID, now, after, limit)
			if err != nil {
				t.Fatalf("limit %d: ListUserSessions: %v", limit, err)
			}
			if len(batch) > limit {
				t.Fatalf("limit %d: page of %d sessions", limit, len(batch))
			}
			got = append(got, batch...)
			if len(batch) < limit {
				break
			}
			last := batch[len(batch)-1]
			after = storage.SessionCursor{CreateTime: last.CreateTime, ID: last.ID}
		}
		if len(got) != len(want) {
			t.Fatalf("limit %d: walked %d sessions, want %d", limit, len(got), len(want))
		}
		for i := range want {
			checkSession(t, &got[i], want[i])
		}
	}
}

func testRevokeOldestSessions(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	bystander := mustUser(t, st, "bystander")
	at := base.Add(time.Hour)
	oldest := mustSession(t, st, u.ID, base, at.Add(time.Hour))
	older := mustSession(t, st, u.ID, base.Add(time.Minute), at.Add(time.Hour))
	expired := mustSession(t, st, u.ID, base.Add(90*time.Second), at) // not after `at`: not live
	middle := mustSession(t, st, u.ID, base.Add(2*time.Minute), at.Add(2*time.Hour))
	ended := mustSession(t, st, u.ID, base.Add(3*time.Minute), at.Add(time.Hour))
	if _, err := st.RevokeSession(ctx, ended.ID, "logout", base.Add(4*time.Minute)); err != nil {
		t.Fatal(err)
	}
	newest := mustSession(t, st, u.ID, base.Add(5*time.Minute), at.Add(time.Hour))
	// justCreated shares oldest's CreateTime (a login in the same millisecond) and is named as the newest.
	justCreated := mustSession(t, st, u.ID, base, at.Add(time.Hour))
	foreign := mustSession(t, st, bystander.ID, base, at.Add(time.Hour))
	before, err := st.RevocationsSince(ctx, 0, base, 100)
	if err != nil || len(before) != 1 {
		t.Fatalf("feed before = %+v, %v; want one entry", before, err)
	}

	// Live, newest first: justCreated (named), newest, middle, older, oldest. Keep three.
	revs, err := st.RevokeOldestSessions(ctx, u.ID, justCreated.ID, 3, "session cap", at)
	if err != nil {
		t.Fatalf("RevokeOldestSessions: %v", err)
	}
	checkNewRevocations(t, st, u.ID, before[0].Seq, at, revs, map[string]time.Time{
		oldest.ID: at.Add(time.Hour), older.ID: at.Add(time.Hour),
	})
	checkRevokeReasons(t, st, []revokeCase{
		{oldest, "session cap"}, {older, "session cap"}, {expired, ""}, {middle, ""}, {ended, "logout"},
		{newest, ""}, {justCreated, ""}, {foreign, ""},
	})

	// At the cap, or under it, nothing more is revoked.
	for _, keep := range []int{3, 10} {
		if revs, err := st.RevokeOldestSessions(ctx, u.ID, "", keep, "session cap", at); err != nil || len(revs) != 0 {
			t.Errorf("RevokeOldestSessions(keep %d) = %+v, %v; want nothing", keep, revs, err)
		}
	}
	// Without a named session, CreateTime decides: justCreated is now the oldest.
	revs, err = st.RevokeOldestSessions(ctx, u.ID, "", 2, "session cap", at)
	if err != nil || len(revs) != 1 || revs[0].SessionID != justCreated.ID {
		t.Errorf("RevokeOldestSessions(keep 2) = %+v, %v; want only %s", revs, err, justCreated.ID)
	}
	revs, err = st.RevokeOldestSessions(ctx, u.ID, NewID(), 0, "session cap", at)
	if err != nil || len(revs) != 2 {
		t.Errorf("RevokeOldestSessions(keep 0) = %+v, %v; want the last two", revs, err)
	}
	if revs, err := st.RevokeOldestSessions(ctx, NewID(), "", 0, "session cap", at); err != nil || len(revs) != 0 {
		t.Errorf("RevokeOldestSessions(unknown user) = %+v, %v; want nothing", revs, err)
	}
	if mustSessionByID(t, st, foreign.ID).Revoked() {
		t.Error("another user's session was revoked")
	}
}

func testRevocationsSince(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	// Five revocations whose sessions expire at base+1h, +2h, ... +5h, revoked in that order.
	var revs []storage.Revocation
	for i := 1; i <= 5; i++ {
		s := mustSession(t, st, u.ID, base, base.Add(time.Duration(i)*time.Hour))
		rev, err := st.RevokeSession(ctx, s.ID, "logout", base.Add(time.Minute))
		if err != nil || rev == nil {
			t.Fatalf("RevokeSession: %+v, %v", rev, err)
		}
		if len(revs) > 0 && rev.Seq <= revs[len(revs)-1].Seq {
			t.Errorf("seq %d after %d: not increasing", rev.Seq, revs[len(revs)-1].Seq)
		}
		revs = append(revs, *rev)
	}

	tests := []struct {
		name  string
		after int64
		now   time.Time
		limit int
		want  []storage.Revocation
	}{
		{"all", 0, base, 100, revs},
		{"after", revs[1].Seq, base, 100, revs[2:]},
		{"limit", 0, base, 2, revs[:2]},
		{"after and limit", revs[0].Seq, base, 3, revs[1:4]},
		// An entry whose ExpireTime is not after now is left out.
		{"expiry", 0, base.Add(2 * time.Hour), 100, revs[2:]},
		{"expiry and limit", 0, base.Add(90 * time.Minute), 2, revs[1:3]},
		{"past the end", revs[4].Seq, base, 100, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.RevocationsSince(ctx, tt.after, tt.now, tt.limit)
			if err != nil {
				t.Fatalf("RevocationsSince: %v", err)
			}
			checkRevocations(t, got, tt.want)
		})
	}
}

func testDeleteExpiredSessions(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	cut := base.Add(time.Hour)
	goneRevoked := mustSession(t, st, u.ID, base, cut.Add(-30*time.Minute))
	gone := mustSession(t, st, u.ID, base, cut.Add(-time.Millisecond))
	atCut := mustSession(t, st, u.ID, base, cut) // not before `before`
	keptRevoked := mustSession(t, st, u.ID, base, cut.Add(time.Hour))
	kept := mustSession(t, st, u.ID, base, cut.Add(2*time.Hour))
	var keptRev *storage.Revocation
	for _, s := range []*storage.Session{goneRevoked, keptRevoked} {
		rev, err := st.RevokeSession(ctx, s.ID, "logout", base)
		if err != nil {
			t.Fatal(err)
		}
		keptRev = rev
	}

	n, err := st.DeleteExpiredSessions(ctx, cut)
	if err != nil {
		t.Fatalf("DeleteExpiredSessions: %v", err)
	}
	if n != 2 {
		t.Errorf("DeleteExpiredSessions removed %d, want 2", n)
	}
	for _, s := range []*storage.Session{goneRevoked, gone} {
		if _, err := st.SessionByID(ctx, s.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("SessionByID(expired %s) = %v, want ErrNotFound", s.ID, err)
		}
	}
	for _, s := range []*storage.Session{atCut, keptRevoked, kept} {
		mustSessionByID(t, st, s.ID)
	}
	// Looking from long ago, when every entry was unexpired, only the surviving session's entry is left.
	feed, err := st.RevocationsSince(ctx, 0, base.AddDate(-1, 0, 0), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 1 || feed[0].SessionID != keptRev.SessionID {
		t.Errorf("feed after delete = %+v, want only %s", feed, keptRev.SessionID)
	}

	if n, err := st.DeleteExpiredSessions(ctx, cut); err != nil || n != 0 {
		t.Errorf("second DeleteExpiredSessions = %d, %v; want 0", n, err)
	}
}

// checkNewRevocations checks the revocations a batch revoke returned, after the feed entry with seq after:
// one per session in want (by id, with its ExpireTime), of user, in increasing Seq, revoked at `at`, and
// the same entries read back from the feed.
func checkNewRevocations(t *testing.T, st storage.Store, user string, after int64, at time.Time, revs []storage.Revocation, want map[string]time.Time) {
	t.Helper()
	var gotIDs, wantIDs []string
	for id := range want {
		wantIDs = append(wantIDs, id)
	}
	for i, r := range revs {
		gotIDs = append(gotIDs, r.SessionID)
		if r.UserID != user || r.Seq <= after || (i > 0 && r.Seq <= revs[i-1].Seq) {
			t.Errorf("revocation %d = %+v", i, r)
		}
		checkTime(t, "RevokeTime", r.RevokeTime, at)
		if exp, ok := want[r.SessionID]; ok {
			checkTime(t, "ExpireTime", r.ExpireTime, exp)
		}
	}
	slices.Sort(gotIDs)
	slices.Sort(wantIDs)
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("revoked %v, want %v", gotIDs, wantIDs)
	}
	feed, err := st.RevocationsSince(context.Background(), after, base, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkRevocations(t, feed, revs)
}

// revokeCase is a session and the revoke reason it must have ("" for a live one).
type revokeCase struct {
	s      *storage.Session
	reason string
}

func checkRevokeReasons(t *testing.T, st storage.Store, cases []revokeCase) {
	t.Helper()
	for _, c := range cases {
		got := mustSessionByID(t, st, c.s.ID)
		if got.Revoked() != (c.reason != "") || got.RevokeReason != c.reason {
			t.Errorf("session %s: revoked %v reason %q, want reason %q", c.s.ID, got.Revoked(), got.RevokeReason, c.reason)
		}
	}
}
