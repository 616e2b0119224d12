package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// Migratable is a backend that manages its own schema.
type Migratable = storage.Backend

// Schema lists what a backend's database holds: its tables and indexes, sorted, leaving out objects the
// database engine itself owns (SQLite's sqlite_sequence, for example).
type Schema struct {
	Tables, Indexes []string
}

// MigrationTarget describes one backend to RunMigrations.
type MigrationTarget struct {
	// Open returns a fresh store on an empty, unmigrated database, closed at the test's cleanup.
	Open func(t *testing.T) Migratable
	// Count is the number of migrations the backend ships.
	Count int
	// Inspect reads the current schema.
	Inspect func(t *testing.T, st Migratable) Schema
	// Head is the schema at the newest migration; Base is what is left after reverting them all (the
	// migrator's bookkeeping table and its index).
	Head, Base Schema
}

// RunMigrations proves that a backend's migrations apply, revert completely and apply again: status before
// and after, the schema at head and after a full revert, a second MigrateUp at head doing nothing, and the
// schema at head being usable for every aggregate, feeds, event log, socket registry and tickets included.
func RunMigrations(t *testing.T, tgt MigrationTarget) {
	ctx := t.Context()
	st := tgt.Open(t)
	applied := func(want int) {
		t.Helper()
		states, err := st.MigrateStatus(ctx)
		if err != nil {
			t.Fatalf("MigrateStatus: %v", err)
		}
		n := 0
		for _, s := range states {
			if s.Applied {
				n++
			}
		}
		if n != want || len(states) != tgt.Count {
			t.Errorf("MigrateStatus = %+v, want %d of %d applied", states, want, tgt.Count)
		}
	}
	schemaIs := func(what string, want Schema) {
		t.Helper()
		got := tgt.Inspect(t, st)
		if !slices.Equal(got.Tables, want.Tables) {
			t.Errorf("%s: tables = %v, want %v", what, got.Tables, want.Tables)
		}
		if want.Indexes != nil && !slices.Equal(got.Indexes, want.Indexes) {
			t.Errorf("%s: indexes = %v, want %v", what, got.Indexes, want.Indexes)
		}
	}

	applied(0)
	var ids []string // the store id at head, by pass
	for pass := range 2 {
		ran, err := st.MigrateUp(ctx)
		if err != nil {
			t.Fatalf("pass %d: MigrateUp: %v", pass, err)
		}
		if len(ran) != tgt.Count {
			t.Errorf("pass %d: MigrateUp applied %d migrations, want %d", pass, len(ran), tgt.Count)
		}
		applied(tgt.Count)
		if again, err := st.MigrateUp(ctx); err != nil || len(again) != 0 {
			t.Errorf("pass %d: MigrateUp at head = %d migrations, %v; want none", pass, len(again), err)
		}
		schemaIs("at head", tgt.Head)
		id, err := st.StoreID(ctx)
		if err != nil {
			t.Fatalf("pass %d: StoreID at head: %v", pass, err)
		}
		// Reverting every migration wipes the store, so migrating up again makes a new one.
		if pass > 0 && id == ids[0] {
			t.Errorf("pass %d: StoreID = %s, the same as before reverting every migration", pass, id)
		}
		ids = append(ids, id)
		if err := st.CheckWrite(ctx); err != nil {
			t.Errorf("pass %d: CheckWrite at head: %v", pass, err)
		}

		// The schema at head must be usable, not just present.
		now := time.Now().UTC()
		u, err := st.CreateUser(ctx, storage.NewUser{ID: NewID(), Username: "u", Kind: storage.IdentityDevice, Identity: "device-0001", Time: now})
		if err != nil {
			t.Fatalf("pass %d: CreateUser at head: %v", pass, err)
		}
		for _, kind := range kinds[1:] {
			identity := identityFor(kind)
			if err := st.LinkIdentity(ctx, u.ID, kind, identity, passwordFor(kind, 0), now); err != nil {
				t.Fatalf("pass %d: LinkIdentity(%v) at head: %v", pass, kind, err)
			}
			if got, err := st.UserByIdentity(ctx, kind, identity); err != nil || got.ID != u.ID {
				t.Fatalf("pass %d: UserByIdentity(%v) at head = %v, %v; want %s", pass, kind, got, err, u.ID)
			}
		}
		s := storage.Session{ID: NewID(), UserID: u.ID, CreateTime: now, RefreshTime: now, ExpireTime: now.Add(time.Hour)}
		if _, err := st.CreateSession(ctx, s); err != nil {
			t.Fatalf("pass %d: CreateSession at head: %v", pass, err)
		}
		if rev, err := st.RevokeSession(ctx, s.ID, "logout", now); err != nil || rev == nil {
			t.Fatalf("pass %d: RevokeSession at head = %+v, %v", pass, rev, err)
		}
		ev := storage.Event{Time: now, Kind: storage.EventLoggedOut, UserID: u.ID, SessionID: s.ID, Reason: "logout"}
		if err := st.AppendEvents(ctx, ev); err != nil {
			t.Fatalf("pass %d: AppendEvents at head: %v", pass, err)
		}
		if evs, err := st.ListEvents(ctx, u.ID, 0, 10); err != nil || len(evs) != 1 {
			t.Fatalf("pass %d: ListEvents at head = %+v, %v; want one event", pass, evs, err)
		}
		if err := st.TouchNode(ctx, "node", now); err != nil {
			t.Fatalf("pass %d: TouchNode at head: %v", pass, err)
		}
		sock := storage.Socket{ID: NewID(), UserID: u.ID, SessionID: s.ID, Node: "node", CreateTime: now}
		if err := st.AddSocket(ctx, sock); err != nil {
			t.Fatalf("pass %d: AddSocket at head: %v", pass, err)
		}
		if socks, err := st.UserSockets(ctx, u.ID, now); err != nil || len(socks) != 1 {
			t.Fatalf("pass %d: UserSockets at head = %+v, %v; want one socket", pass, socks, err)
		}
		cmd := storage.SocketCommand{Kind: storage.SocketDisconnect, SocketID: sock.ID, UserID: u.ID, Time: now}
		if seq, err := st.AppendSocketCommand(ctx, cmd); err != nil || seq != 1 {
			t.Fatalf("pass %d: AppendSocketCommand at head = %d, %v; want seq 1", pass, seq, err)
		}

		if err := st.AddTicketKey(ctx, ticketKey("kid", "EdDSA", now)); err != nil {
			t.Fatalf("pass %d: AddTicketKey at head: %v", pass, err)
		}
		if keys, err := st.TicketKeys(ctx); err != nil || len(keys) != 1 {
			t.Fatalf("pass %d: TicketKeys at head = %+v, %v; want one key", pass, keys, err)
		}
		if err := st.RedeemTicket(ctx, NewID(), now); err != nil {
			t.Fatalf("pass %d: RedeemTicket at head: %v", pass, err)
		}

		if _, err := st.MigrateDown(ctx, 0); err != nil {
			t.Fatalf("pass %d: MigrateDown: %v", pass, err)
		}
		applied(0)
		schemaIs("after reverting every migration", tgt.Base)
	}
}
