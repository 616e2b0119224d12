package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// ticketKey returns a key with distinct key bytes, created at `at`.
func ticketKey(id, alg string, at time.Time) storage.TicketKey {
	return storage.TicketKey{ID: id, Algorithm: alg, Private: []byte("private " + id + "\x00\xff"),
		Public: []byte("public " + id + "\x00\xff"), CreateTime: at}
}

func mustAddTicketKey(t *testing.T, st storage.Store, k storage.TicketKey) {
	t.Helper()
	if err := st.AddTicketKey(t.Context(), k); err != nil {
		t.Fatalf("AddTicketKey(%s): %v", k.ID, err)
	}
}

// checkTicketKeys compares the store's keys with want, in order.
func checkTicketKeys(t *testing.T, what string, st storage.Store, want ...storage.TicketKey) {
	t.Helper()
	got, err := st.TicketKeys(t.Context())
	if err != nil {
		t.Fatalf("%s: TicketKeys: %v", what, err)
	}
	if len(got) != len(want) {
		ids := make([]string, len(got))
		for i, k := range got {
			ids[i] = k.ID
		}
		t.Fatalf("%s: TicketKeys = %q, want %d keys", what, ids, len(want))
	}
	for i, k := range got {
		w := want[i]
		if k.ID != w.ID || k.Algorithm != w.Algorithm || !bytes.Equal(k.Private, w.Private) || !bytes.Equal(k.Public, w.Public) {
			t.Errorf("%s: key %d = %s %s %q %q, want %s %s %q %q", what, i, k.ID, k.Algorithm, k.Private, k.Public,
				w.ID, w.Algorithm, w.Private, w.Public)
		}
		checkTime(t, fmt.Sprintf("%s: key %d CreateTime", what, i), k.CreateTime, w.CreateTime)
	}
}

func testTicketKeys(t *testing.T, st storage.Store) {
	checkTicketKeys(t, "empty store", st)
	// Added out of order, so that a store listing in insertion order would show; b1 and b2 share a
	// millisecond and are ordered by id.
	a := ticketKey("a", "EdDSA", base)
	b1 := ticketKey("b1", "ES256", base.Add(time.Hour))
	c := ticketKey("c", "EdDSA", base.Add(2*time.Hour))
	b2 := ticketKey("b2", "EdDSA", base.Add(time.Hour))
	for _, k := range []storage.TicketKey{b1, a, c, b2} {
		mustAddTicketKey(t, st, k)
	}
	checkTicketKeys(t, "four keys", st, c, b2, b1, a)
}

func testDuplicateTicketKey(t *testing.T, st storage.Store) {
	k := ticketKey("kid-1", "EdDSA", base)
	mustAddTicketKey(t, st, k)
	other := ticketKey("kid-1", "ES256", base.Add(time.Hour))
	other.Private, other.Public = []byte("other private"), []byte("other public")
	if err := st.AddTicketKey(t.Context(), other); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("AddTicketKey of an existing id = %v, want ErrConflict", err)
	}
	checkTicketKeys(t, "after the clash", st, k)
}

func testDeleteTicketKeysBefore(t *testing.T, st storage.Store) {
	ctx := t.Context()
	cut := base.Add(time.Hour)
	old := ticketKey("old", "EdDSA", base)
	justBefore := ticketKey("just-before", "EdDSA", cut.Add(-time.Millisecond))
	atCut := ticketKey("at-cut", "EdDSA", cut)
	newer := ticketKey("newer", "ES256", cut.Add(time.Hour))
	for _, k := range []storage.TicketKey{newer, old, atCut, justBefore} {
		mustAddTicketKey(t, st, k)
	}
	if n, err := st.DeleteTicketKeysBefore(ctx, cut); err != nil || n != 2 {
		t.Errorf("DeleteTicketKeysBefore = %d, %v; want 2", n, err)
	}
	checkTicketKeys(t, "after the sweep", st, newer, atCut)
	if n, err := st.DeleteTicketKeysBefore(ctx, cut); err != nil || n != 0 {
		t.Errorf("second DeleteTicketKeysBefore = %d, %v; want 0", n, err)
	}
	// A deleted key's id is free again.
	mustAddTicketKey(t, st, old)
	checkTicketKeys(t, "after adding a deleted id again", st, newer, atCut, old)
}

func testRedeemTicket(t *testing.T, st storage.Store) {
	ctx := t.Context()
	id, other := NewID(), NewID()
	exp := base.Add(30 * time.Second)
	if err := st.RedeemTicket(ctx, id, exp); err != nil {
		t.Fatalf("first RedeemTicket: %v", err)
	}
	for range 2 {
		if err := st.RedeemTicket(ctx, id, exp); !errors.Is(err, storage.ErrConflict) {
			t.Errorf("RedeemTicket again = %v, want ErrConflict", err)
		}
	}
	// The expiry is not part of the id: a replay with another expiry is refused as well.
	if err := st.RedeemTicket(ctx, id, exp.Add(time.Hour)); !errors.Is(err, storage.ErrConflict) {
		t.Errorf("RedeemTicket again with another expiry = %v, want ErrConflict", err)
	}
	if err := st.RedeemTicket(ctx, other, exp); err != nil {
		t.Errorf("RedeemTicket of another id: %v", err)
	}
}

func testDeleteRedeemedTicketsBefore(t *testing.T, st storage.Store) {
	ctx := t.Context()
	cut := base.Add(time.Hour)
	ids := map[string]time.Time{
		"long-before": base.AddDate(-1, 0, 0), "just-before": cut.Add(-time.Millisecond),
		"at-cut": cut, "after": cut.Add(time.Minute),
	}
	for id, exp := range ids {
		if err := st.RedeemTicket(ctx, id, exp); err != nil {
			t.Fatalf("RedeemTicket(%s): %v", id, err)
		}
	}
	if n, err := st.DeleteRedeemedTicketsBefore(ctx, cut); err != nil || n != 2 {
		t.Errorf("DeleteRedeemedTicketsBefore = %d, %v; want 2", n, err)
	}
	if n, err := st.DeleteRedeemedTicketsBefore(ctx, cut); err != nil || n != 0 {
		t.Errorf("second DeleteRedeemedTicketsBefore = %d, %v; want 0", n, err)
	}
	// The records the sweep deleted no longer refuse their id; those it kept still do.
	for id, exp := range ids {
		err := st.RedeemTicket(ctx, id, exp)
		if kept := !exp.Before(cut); kept && !errors.Is(err, storage.ErrConflict) {
			t.Errorf("RedeemTicket(%s) after the sweep = %v, want ErrConflict (kept)", id, err)
		} else if !kept && err != nil {
			t.Errorf("RedeemTicket(%s) after the sweep = %v, want success (deleted)", id, err)
		}
	}
}

// testConcurrentRedeemTicket: of many redemptions of one ticket at once, exactly one succeeds; it runs a
// few rounds, so that the racers meet in different orders.
func testConcurrentRedeemTicket(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for round := range 5 {
		id := NewID()
		errs := race(racers, func(int) error { return st.RedeemTicket(ctx, id, base.Add(time.Minute)) })
		tally(t, fmt.Sprintf("round %d: RedeemTicket of one id", round), errs, storage.ErrConflict)
	}
}

// testConcurrentAddTicketKey: two nodes that create a key with the same id at once cannot both store it.
func testConcurrentAddTicketKey(t *testing.T, st storage.Store) {
	errs := race(racers, func(i int) error {
		return st.AddTicketKey(t.Context(), ticketKey("same", "EdDSA", base.Add(time.Duration(i)*time.Second)))
	})
	w := tally(t, "AddTicketKey of one id", errs, storage.ErrConflict)
	checkTicketKeys(t, "after the race", st, ticketKey("same", "EdDSA", base.Add(time.Duration(w)*time.Second)))
}
