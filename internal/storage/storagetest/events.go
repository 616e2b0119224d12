package storagetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// The suite reads the Events contract as follows, beyond what storage.go spells out:
//   - the events of one AppendEvents call take increasing IDs in the order they were passed, so a batch
//     lists newest first like separate appends would;
//   - ListEvents with a limit below 1 is an error rather than an empty page or a default page size, which
//     is the caller's policy;
//   - DeleteEventsBefore(t) keeps an event at exactly t;
//   - IDs are never reused: they keep increasing even after the newest events have been deleted;
//   - events are not tied to accounts or sessions: they can name ids that no longer (or never did) exist.

// checkEvents compares events in order. want's IDs are compared only where they are set; got's must be
// positive and strictly decreasing, as ListEvents returns them.
func checkEvents(t *testing.T, what string, got, want []storage.Event) {
	t.Helper()
	checkList(t, what, got, want, func(i int, g, w storage.Event) {
		t.Helper()
		if g.Kind != w.Kind || g.UserID != w.UserID || g.SessionID != w.SessionID || g.ClientIP != w.ClientIP ||
			g.Reason != w.Reason || (w.ID != 0 && g.ID != w.ID) {
			t.Errorf("%s: event %d:\n got %+v\nwant %+v", what, i, g, w)
		}
		if g.ID <= 0 {
			t.Errorf("%s: event %d has id %d, want a positive one", what, i, g.ID)
		}
		if i > 0 && g.ID >= got[i-1].ID {
			t.Errorf("%s: event %d has id %d after %d, want newest (highest id) first", what, i, g.ID, got[i-1].ID)
		}
		checkTime(t, fmt.Sprintf("%s: event %d Time", what, i), g.Time, w.Time)
	})
}

// mustAppend appends evs and fails the test on error.
func mustAppend(t *testing.T, st storage.Store, evs ...storage.Event) {
	t.Helper()
	if err := st.AppendEvents(t.Context(), evs...); err != nil {
		t.Fatalf("AppendEvents(%d events): %v", len(evs), err)
	}
}

// mustList lists every event of userID (at most 1000), newest first.
func mustList(t *testing.T, st storage.Store, userID string) []storage.Event {
	t.Helper()
	evs, err := st.ListEvents(t.Context(), userID, 0, 1000)
	if err != nil {
		t.Fatalf("ListEvents(%s): %v", userID, err)
	}
	return evs
}

// reversed returns a reversed copy of evs: the order ListEvents returns events appended in evs's order.
func reversed(evs []storage.Event) []storage.Event {
	out := make([]storage.Event, len(evs))
	for i, ev := range evs {
		out[len(evs)-1-i] = ev
	}
	return out
}

func testAppendAndListEvents(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	other := mustUser(t, st, "other")
	sid, otherSID := NewID(), NewID()
	// Times with a sub-millisecond part, which a backend may drop, in base's non-UTC zone.
	at := func(d time.Duration) time.Time { return base.Add(d + 123_456*time.Nanosecond) }
	mine := []storage.Event{
		{Time: at(0), Kind: storage.EventSessionCreated, UserID: u.ID, SessionID: sid, ClientIP: "192.0.2.1"},
		{Time: at(time.Minute), Kind: storage.EventSessionRefreshed, UserID: u.ID, SessionID: sid, ClientIP: "2001:db8::1"},
		// A batch: account-wide events (no session, no client) and one without a client only.
		{Time: at(2 * time.Minute), Kind: storage.EventUserBanned, UserID: u.ID, Reason: "cheating: ünïcødé, 'quotes'"},
		{Time: at(2 * time.Minute), Kind: storage.EventSessionRevoked, UserID: u.ID, SessionID: sid, Reason: "ban"},
		{Time: at(3 * time.Minute), Kind: storage.EventUserUnbanned, UserID: u.ID, Reason: "appeal"},
		// Time precedes the others', but the id follows append order, not time order.
		{Time: at(-time.Hour), Kind: storage.EventRefreshReuse, UserID: u.ID, SessionID: sid, ClientIP: "198.51.100.7", Reason: "rotated"},
	}
	theirs := []storage.Event{
		{Time: at(30 * time.Second), Kind: storage.EventSessionCreated, UserID: other.ID, SessionID: otherSID, ClientIP: "203.0.113.9"},
		{Time: at(4 * time.Minute), Kind: storage.EventLoggedOut, UserID: other.ID, SessionID: otherSID, ClientIP: "203.0.113.9", Reason: "logout"},
	}
	// The ID of an event passed in is ignored.
	mine[0].ID = 1 << 40
	mustAppend(t, st, mine[0])
	mine[0].ID = 0
	mustAppend(t, st, theirs[0])
	mustAppend(t, st, mine[1])
	mustAppend(t, st, mine[2:5]...)
	mustAppend(t, st, theirs[1])
	mustAppend(t, st, mine[5])

	got := mustList(t, st, u.ID)
	checkEvents(t, "owner's events", got, reversed(mine))
	gotOther := mustList(t, st, other.ID)
	checkEvents(t, "other's events", gotOther, reversed(theirs))
	if len(got) == len(mine) && len(gotOther) == len(theirs) {
		// The two users' events were interleaved, and so are their ids.
		if !(got[5].ID < gotOther[1].ID && gotOther[1].ID < got[4].ID && got[1].ID < gotOther[0].ID && gotOther[0].ID < got[0].ID) {
			t.Errorf("ids do not follow append order across users: owner %+v, other %+v", got, gotOther)
		}
	}

	if evs, err := st.ListEvents(ctx, NewID(), 0, 100); err != nil || len(evs) != 0 {
		t.Errorf("ListEvents(unknown user) = %+v, %v; want none", evs, err)
	}
}

func testListEventsPaging(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := NewID()
	var appended []storage.Event
	for i := range 7 {
		ev := storage.Event{Time: base.Add(time.Duration(i) * time.Second), Kind: storage.EventSessionRefreshed, UserID: u, SessionID: NewID(), Reason: fmt.Sprint(i)}
		mustAppend(t, st, ev)
		appended = append(appended, ev)
	}
	all := mustList(t, st, u)
	checkEvents(t, "all", all, reversed(appended))
	if len(all) != 7 {
		t.FailNow()
	}
	// all[0] is the newest event, all[6] the oldest.
	tests := []struct {
		name   string
		before int64
		limit  int
		want   []storage.Event
	}{
		{"no bound", 0, 100, all},
		{"negative before is no bound", -1, 100, all},
		{"limit", 0, 3, all[:3]},
		{"limit equal to count", 0, 7, all},
		{"limit of one", 0, 1, all[:1]},
		{"before", all[2].ID, 100, all[3:]},
		{"before and limit", all[2].ID, 2, all[3:5]},
		{"before the oldest", all[6].ID, 100, nil},
		{"before past the newest", all[0].ID + 1000, 100, all},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.ListEvents(ctx, u, tt.before, tt.limit)
			if err != nil {
				t.Fatalf("ListEvents(before %d, limit %d): %v", tt.before, tt.limit, err)
			}
			checkEvents(t, tt.name, got, tt.want)
		})
	}

	// Paging backwards from the last id seen visits every event once, in order.
	var paged []storage.Event
	var before int64
	for range len(all) + 1 {
		page, err := st.ListEvents(ctx, u, before, 3)
		if err != nil {
			t.Fatalf("ListEvents(before %d): %v", before, err)
		}
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		before = page[len(page)-1].ID
	}
	checkEvents(t, "paged", paged, all)

	for _, limit := range []int{0, -1} {
		if evs, err := st.ListEvents(ctx, u, 0, limit); err == nil {
			t.Errorf("ListEvents(limit %d) = %+v, nil; want an error", limit, evs)
		}
	}
}

// testEventsOutliveSessions checks that events are not tied to the rows they name: they survive the sweep
// of their session, and can name an account that does not exist (any more).
func testEventsOutliveSessions(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "owner")
	s := mustSession(t, st, u.ID, base, base.Add(time.Hour))
	created := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: u.ID, SessionID: s.ID, ClientIP: s.ClientIP}
	mustAppend(t, st, created)
	if _, err := st.RevokeSession(ctx, s.ID, "logout", base.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	out := storage.Event{Time: base.Add(time.Minute), Kind: storage.EventLoggedOut, UserID: u.ID, SessionID: s.ID, Reason: "logout"}
	mustAppend(t, st, out)
	if n, err := st.DeleteExpiredSessions(ctx, base.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	if _, err := st.SessionByID(ctx, s.ID); err == nil {
		t.Fatal("session survived DeleteExpiredSessions")
	}
	checkEvents(t, "events of a deleted session", mustList(t, st, u.ID), []storage.Event{out, created})

	ghost := storage.Event{Time: base, Kind: storage.EventSessionRevoked, UserID: NewID(), SessionID: NewID(), Reason: "admin"}
	mustAppend(t, st, ghost)
	checkEvents(t, "events of an unknown account", mustList(t, st, ghost.UserID), []storage.Event{ghost})
}

func testDeleteEventsBefore(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u, v := NewID(), NewID()
	cut := base.Add(time.Hour)
	ev := func(user string, at time.Time, reason string) storage.Event {
		return storage.Event{Time: at, Kind: storage.EventSessionCreated, UserID: user, SessionID: NewID(), Reason: reason}
	}
	// Appended out of time order, so that a sweep by id rather than by time would show.
	uGone := []storage.Event{ev(u, cut.Add(-time.Millisecond), "just before"), ev(u, base.AddDate(-1, 0, 0), "a year before")}
	uKept := []storage.Event{ev(u, cut, "at the cut"), ev(u, cut.Add(time.Hour), "after")}
	vGone := []storage.Event{ev(v, base, "before")}
	vKept := []storage.Event{ev(v, cut.Add(time.Millisecond), "just after")}
	mustAppend(t, st, uKept[1], uGone[0])
	mustAppend(t, st, vGone[0], vKept[0])
	mustAppend(t, st, uKept[0], uGone[1])

	n, err := st.DeleteEventsBefore(ctx, cut)
	if err != nil {
		t.Fatalf("DeleteEventsBefore: %v", err)
	}
	if want := len(uGone) + len(vGone); n != want {
		t.Errorf("DeleteEventsBefore removed %d, want %d", n, want)
	}
	checkEvents(t, "u's events after the sweep", mustList(t, st, u), []storage.Event{uKept[0], uKept[1]})
	checkEvents(t, "v's events after the sweep", mustList(t, st, v), vKept)

	if n, err := st.DeleteEventsBefore(ctx, cut); err != nil || n != 0 {
		t.Errorf("second DeleteEventsBefore = %d, %v; want 0", n, err)
	}

	// Ids keep increasing after every event, the newest included, has been deleted.
	newest := max(mustList(t, st, u)[0].ID, mustList(t, st, v)[0].ID)
	if n, err := st.DeleteEventsBefore(ctx, cut.AddDate(1, 0, 0)); err != nil || n != len(uKept)+len(vKept) {
		t.Errorf("DeleteEventsBefore(everything) = %d, %v; want %d", n, err, len(uKept)+len(vKept))
	}
	last := storage.Event{Time: base, Kind: storage.EventUserBanned, UserID: u}
	mustAppend(t, st, last)
	got := mustList(t, st, u)
	checkEvents(t, "u's events after deleting all and appending one", got, []storage.Event{last})
	if len(got) == 1 && got[0].ID <= newest {
		t.Errorf("id after deleting every event = %d, want above the deleted newest %d", got[0].ID, newest)
	}
}

func testAppendNoEvents(t *testing.T, st storage.Store) {
	u := NewID()
	if err := st.AppendEvents(t.Context()); err != nil {
		t.Errorf("AppendEvents() = %v, want nil", err)
	}
	if err := st.AppendEvents(t.Context(), []storage.Event{}...); err != nil {
		t.Errorf("AppendEvents(empty slice) = %v, want nil", err)
	}
	// A no-op does not even reach the database, so it cannot fail.
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	if err := st.AppendEvents(canceled); err != nil {
		t.Errorf("AppendEvents() with a canceled context = %v, want nil", err)
	}
	checkEvents(t, "events after appending none", mustList(t, st, u), nil)
	ev := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: u}
	mustAppend(t, st, ev)
	checkEvents(t, "events after appending one", mustList(t, st, u), []storage.Event{ev})
}

// testConcurrentAppendEvents appends from racers goroutines at once, some one event at a time and some in
// batches, and checks that every event lands once, with distinct ids that increase in each goroutine's
// append order.
func testConcurrentAppendEvents(t *testing.T, st storage.Store) {
	ctx := t.Context()
	const perRacer = 6
	u := NewID()
	errs := race(racers, func(i int) error {
		evs := make([]storage.Event, perRacer)
		for j := range evs {
			evs[j] = storage.Event{
				Time: base.Add(time.Duration(j) * time.Second), Kind: storage.EventSessionRefreshed, UserID: u,
				SessionID: NewID(), Reason: fmt.Sprintf("%d/%d", i, j),
			}
		}
		if i%2 == 1 { // batches of two
			for j := 0; j < perRacer; j += 2 {
				if err := st.AppendEvents(ctx, evs[j:j+2]...); err != nil {
					return err
				}
			}
			return nil
		}
		for _, ev := range evs {
			if err := st.AppendEvents(ctx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("racer %d: AppendEvents: %v", i, err)
		}
	}
	got := mustList(t, st, u)
	if len(got) != racers*perRacer {
		t.Fatalf("%d events landed, want %d", len(got), racers*perRacer)
	}
	// next[i] is the index of racer i's next expected event, reading oldest first.
	next := make([]int, racers)
	for k := len(got) - 1; k >= 0; k-- {
		ev := got[k]
		if k < len(got)-1 && ev.ID <= got[k+1].ID {
			t.Errorf("event %+v: id not above the previous one's %d", ev, got[k+1].ID)
		}
		var i, j int
		if _, err := fmt.Sscanf(ev.Reason, "%d/%d", &i, &j); err != nil || i < 0 || i >= racers {
			t.Errorf("event %+v: unexpected reason", ev)
			continue
		}
		if j != next[i] {
			t.Errorf("racer %d: its event %d comes next in id order, want its event %d", i, j, next[i])
		}
		next[i] = j + 1
	}
}
