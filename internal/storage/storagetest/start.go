package storagetest

import (
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// testStartSession: a login's writes in one call: the session, the cap, the events.
func testStartSession(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	at := base.Add(time.Hour)
	older := mustSession(t, st, u.ID, base, at.Add(time.Hour))
	old := mustSession(t, st, u.ID, base.Add(time.Minute), at.Add(2*time.Hour))
	before := lastSeq(t, st)

	s := storage.Session{ID: NewID(), UserID: u.ID, CreateTime: at, RefreshTime: at, ExpireTime: at.Add(3 * time.Hour),
		Vars: map[string]string{"k": "v"}, UserAgent: "agent/2.0", ClientIP: "192.0.2.9"}
	created := storage.Event{Time: at, Kind: storage.EventSessionCreated, UserID: u.ID, SessionID: s.ID, ClientIP: "192.0.2.9"}
	gen, revs, err := st.StartSession(ctx, storage.SessionStart{
		Session: s, MaxLive: 2, CapReason: "session cap", Events: []storage.Event{created},
		CapEvent: storage.Event{Time: at, Kind: storage.EventSessionRevoked, UserID: u.ID, ClientIP: "192.0.2.9", Reason: "session cap"},
	})
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	s.Generation = gen
	checkSession(t, mustSessionByID(t, st, s.ID), &s)
	checkNewRevocations(t, st, u.ID, before, at, revs, map[string]time.Time{older.ID: older.ExpireTime})
	checkRevokeReasons(t, st, []revokeCase{{older, "session cap"}, {old, ""}})
	evs := mustList(t, st, u.ID)
	checkEvents(t, "events", evs, []storage.Event{
		{Time: at, Kind: storage.EventSessionRevoked, UserID: u.ID, SessionID: older.ID, ClientIP: "192.0.2.9", Reason: "session cap"},
		created,
	})

	// Under the cap, or without one: nothing revoked, no cap event.
	for _, max := range []int{0, 10} {
		s2 := storage.Session{ID: NewID(), UserID: u.ID, CreateTime: at, RefreshTime: at, ExpireTime: at.Add(time.Hour)}
		_, revs, err := st.StartSession(ctx, storage.SessionStart{Session: s2, MaxLive: max, CapReason: "session cap",
			CapEvent: storage.Event{Kind: storage.EventSessionRevoked, UserID: u.ID}})
		if err != nil || len(revs) != 0 {
			t.Errorf("StartSession(MaxLive %d) = %+v, %v; want nothing revoked", max, revs, err)
		}
	}
	if got := len(mustList(t, st, u.ID)); got != len(evs) {
		t.Errorf("%d events after logins under the cap, want %d", got, len(evs))
	}

	// A cap of one keeps only the new session, even against one created in the same millisecond whose id
	// sorts after it.
	tie := mustSession(t, st, u.ID, at.Add(time.Minute), at.Add(time.Hour))
	s3 := storage.Session{ID: "00000000-0000-4000-8000-000000000001", UserID: u.ID, CreateTime: at.Add(time.Minute),
		RefreshTime: at.Add(time.Minute), ExpireTime: at.Add(time.Hour)}
	_, revs, err = st.StartSession(ctx, storage.SessionStart{Session: s3, MaxLive: 1, CapReason: "session cap"})
	if err != nil {
		t.Fatalf("StartSession(MaxLive 1): %v", err)
	}
	list, err := st.ListUserSessions(ctx, u.ID, at, storage.SessionCursor{}, 100)
	if err != nil || len(list) != 1 || list[0].ID != s3.ID {
		t.Errorf("live sessions after a login with a cap of one = %+v, %v; want only %s", list, err, s3.ID)
	}
	ended := false
	for _, r := range revs {
		ended = ended || r.SessionID == tie.ID
	}
	if !ended {
		t.Errorf("the cap of one did not end the session created in the same millisecond: %+v", revs)
	}

	// An unknown user: nothing written, events included.
	ghost := NewID()
	_, _, err = st.StartSession(ctx, storage.SessionStart{
		Session: storage.Session{ID: NewID(), UserID: ghost, CreateTime: at, ExpireTime: at.Add(time.Hour)},
		Events:  []storage.Event{{Time: at, Kind: storage.EventSessionCreated, UserID: ghost}},
	})
	checkErr(t, "StartSession(unknown user)", err, storage.ErrNotFound)
	if evs, err := st.ListEvents(ctx, ghost, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("events of a login that failed = %+v, %v; want none", evs, err)
	}
	// A taken id: ErrConflict, nothing written.
	_, _, err = st.StartSession(ctx, storage.SessionStart{
		Session: storage.Session{ID: s.ID, UserID: u.ID, CreateTime: at, ExpireTime: at.Add(time.Hour)},
		Events:  []storage.Event{{Time: at, Kind: storage.EventLoginLocked, UserID: u.ID}},
	})
	checkErr(t, "StartSession(existing id)", err, storage.ErrConflict)
	for _, ev := range mustList(t, st, u.ID) {
		if ev.Kind == storage.EventLoginLocked {
			t.Error("the events of a failed StartSession were written")
		}
	}
}

// testConcurrentStartAtCap: logins of one account racing at its cap leave it at the cap, not above: each
// login counts the sessions of the logins that committed before it, and every session beyond the cap is
// ended exactly once, by one of them.
func testConcurrentStartAtCap(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	const maxLive, rounds = 4, 4
	at := base.Add(time.Hour)
	all := map[string]bool{} // every session made, and whether it is still live per the calls' answers
	for range maxLive - 1 {
		all[mustSession(t, st, u.ID, base, at.Add(time.Hour)).ID] = true
	}
	for round := range rounds {
		revs := make([][]storage.Revocation, racers)
		ids := make([]string, racers)
		errs := race(racers, func(i int) error {
			// Distinct create times that do not follow the order in which the logins commit.
			created := at.Add(time.Duration(round*racers+(i*7)%racers) * time.Millisecond)
			ids[i] = NewID()
			var err error
			_, revs[i], err = st.StartSession(ctx, storage.SessionStart{
				Session:   storage.Session{ID: ids[i], UserID: u.ID, CreateTime: created, RefreshTime: created, ExpireTime: at.Add(time.Hour)},
				MaxLive:   maxLive,
				CapReason: "session cap",
			})
			return err
		})
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: login %d: %v", round, i, err)
			}
			all[ids[i]] = true
		}
		for i := range revs {
			for _, r := range revs[i] {
				if live, ok := all[r.SessionID]; !ok || !live {
					t.Errorf("round %d: login %d ended session %s, which is unknown or already ended (known %v)", round, i, r.SessionID, ok)
				}
				all[r.SessionID] = false
			}
		}
		list, err := st.ListUserSessions(ctx, u.ID, at, storage.SessionCursor{}, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != maxLive {
			t.Errorf("round %d: %d live sessions after %d logins raced at a cap of %d", round, len(list), racers, maxLive)
		}
		for _, s := range list {
			if !all[s.ID] {
				t.Errorf("round %d: session %s is listed live but a login reported ending it", round, s.ID)
			}
		}
	}
}
