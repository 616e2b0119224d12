package storagetest

import (
	"regexp"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// uuidRE matches a canonical lowercase UUID.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// testStoreID: a migrated store has an id, the same on every call, that writes and CheckWrite leave alone.
func testStoreID(t *testing.T, st storage.Store) {
	ctx := t.Context()
	id, err := st.StoreID(ctx)
	if err != nil {
		t.Fatalf("StoreID: %v", err)
	}
	if !uuidRE.MatchString(id) {
		t.Errorf("StoreID = %q, want a canonical lowercase UUID", id)
	}
	mustUser(t, st, "someone")
	if err := st.CheckWrite(ctx); err != nil {
		t.Errorf("CheckWrite: %v", err)
	}
	if err := st.CheckWrite(ctx); err != nil {
		t.Errorf("CheckWrite again: %v", err)
	}
	if again, err := st.StoreID(ctx); err != nil || again != id {
		t.Errorf("StoreID after writes = %q, %v; want %q", again, err, id)
	}
}

// testStoreIDPerStore: two stores, each on its own empty database, have different ids.
func testStoreIDPerStore(t *testing.T, newStore func(t *testing.T) storage.Store) {
	a, err := newStore(t).StoreID(t.Context())
	if err != nil {
		t.Fatalf("StoreID: %v", err)
	}
	b, err := newStore(t).StoreID(t.Context())
	if err != nil {
		t.Fatalf("StoreID: %v", err)
	}
	if a == b {
		t.Errorf("two stores have the same id %s", a)
	}
}
