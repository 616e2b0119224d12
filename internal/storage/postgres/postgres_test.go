package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/migrate"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"github.com/latchkeyhq/latchkey/internal/storage/postgres"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
)

// open opens a store on url and closes it when the test ends.
func open(t testing.TB, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// migrated opens a store on url and migrates it to head.
func migrated(t testing.TB, url string) *postgres.Store {
	t.Helper()
	st := open(t, url)
	if _, err := st.MigrateUp(context.Background()); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	return st
}

// newStore returns a migrated store on a fresh database.
func newStore(t testing.TB) *postgres.Store {
	t.Helper()
	return migrated(t, pgtest.NewDatabase(t))
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}

// base is far from time.Now, like the conformance suite's clock, so that using the real clock shows.
var base = time.Date(2031, 5, 6, 7, 8, 9, 0, time.UTC)

func mustUser(t testing.TB, st storage.Store) *storage.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), storage.NewUser{
		ID: storagetest.NewID(), Username: "user-" + storagetest.NewID(), Kind: storage.IdentityDevice, Identity: "device-" + storagetest.NewID(), Time: base,
	})
	if err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	return u
}

func mustSession(t testing.TB, st storage.Store, userID string) storage.Session {
	t.Helper()
	s := storage.Session{ID: storagetest.NewID(), UserID: userID, CreateTime: base, RefreshTime: base, ExpireTime: base.Add(time.Hour)}
	gen, err := st.CreateSession(context.Background(), s)
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	s.Generation = gen
	return s
}

// schema lists the tables and indexes of the database's current schema.
func schema(t *testing.T, st *postgres.Store) (tables, indexes []string) {
	t.Helper()
	ctx := t.Context()
	list := func(q string) []string {
		rows, err := st.Pool().Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			out = append(out, name)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
	tables = list(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`)
	indexes = list(`SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname`)
	return tables, indexes
}

func TestMigrations(t *testing.T) {
	all, err := migrate.Parse(postgres.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	storagetest.RunMigrations(t, storagetest.MigrationTarget{
		Open:  func(t *testing.T) storagetest.Migratable { return open(t, pgtest.NewDatabase(t)) },
		Count: len(all),
		Inspect: func(t *testing.T, st storagetest.Migratable) storagetest.Schema {
			tables, indexes := schema(t, st.(*postgres.Store))
			return storagetest.Schema{Tables: tables, Indexes: indexes}
		},
		Head: storagetest.Schema{
			Tables: []string{"imports", "latchkey_feed_counter", migrate.Table, "redeemed_tickets", "security_events", "session_revocations", "sessions",
				"socket_command_counter", "socket_commands", "socket_nodes", "sockets", "store_identity", "ticket_keys",
				"user_device", "users"},
			Indexes: []string{"imports_pkey", "latchkey_feed_counter_pkey", migrate.Table + "_pkey",
				"redeemed_tickets_expire_time_idx", "redeemed_tickets_pkey",
				"security_events_event_time_idx", "security_events_pkey", "security_events_user_id_idx",
				"session_revocations_expire_time_idx", "session_revocations_pkey",
				"sessions_expire_time_idx", "sessions_pkey", "sessions_user_id_live_idx",
				"socket_command_counter_pkey", "socket_commands_command_time_idx", "socket_commands_pkey",
				"socket_nodes_pkey", "sockets_node_idx", "sockets_pkey", "sockets_user_id_idx", "store_identity_pkey",
				"ticket_keys_pkey", "user_device_pkey", "user_device_user_id_idx",
				"users_apple_id_key", "users_custom_id_key", "users_email_key", "users_facebook_id_key",
				"users_facebook_instant_game_id_key", "users_gamecenter_id_key", "users_google_id_key",
				"users_pkey", "users_steam_id_key", "users_username_key"},
		},
		Base: storagetest.Schema{Tables: []string{migrate.Table}, Indexes: []string{migrate.Table + "_pkey"}},
	})
}

func TestConcurrentMigrateUp(t *testing.T) {
	url := pgtest.NewDatabase(t)
	all, err := migrate.Parse(postgres.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	const nodes = 6
	stores := make([]*postgres.Store, nodes)
	for i := range stores {
		stores[i] = open(t, url)
	}
	for round := range 2 { // the second round races on a migrated database
		applied := make([]int, nodes)
		errs := make([]error, nodes)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, st := range stores {
			wg.Go(func() {
				<-start
				var ran []migrate.Migration
				ran, errs[i] = st.MigrateUp(t.Context())
				applied[i] = len(ran)
			})
		}
		close(start)
		wg.Wait()
		total := 0
		for i := range nodes {
			if errs[i] != nil {
				t.Errorf("round %d: node %d: MigrateUp: %v", round, i, errs[i])
			}
			total += applied[i]
		}
		if want := len(all) * (1 - round); total != want {
			t.Errorf("round %d: %d migrations applied in all, want %d", round, total, want)
		}
	}
	u := mustUser(t, stores[0])
	if _, err := stores[nodes-1].UserByID(t.Context(), u.ID); err != nil {
		t.Errorf("UserByID on another node: %v", err)
	}
}

// cutsVersion is the version of the account cuts migration.
const cutsVersion = 6

// TestRevertCuts checks that reverting the account cuts migration keeps the sessions cuts ended ended: each
// is stamped with its account's latest cut and gets a feed entry of its own, after every existing seq, and
// the cut entries leave the feed.
func TestRevertCuts(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u, bystander := mustUser(t, st), mustUser(t, st)
	ended1, ended2, kept, revoked := mustSession(t, st, u.ID), mustSession(t, st, u.ID), mustSession(t, st, u.ID), mustSession(t, st, u.ID)
	foreign := mustSession(t, st, bystander.ID)
	if _, err := st.RevokeSession(ctx, revoked.ID, "logout", base); err != nil {
		t.Fatal(err)
	}
	cut, n, err := st.RevokeUserSessions(ctx, u.ID, kept.ID, "logout_all", base.Add(time.Minute))
	if err != nil || cut == nil || n != 2 {
		t.Fatalf("RevokeUserSessions = %+v, %d ended, %v; want a cut ending 2", cut, n, err)
	}
	later := mustSession(t, st, u.ID) // in the cut's generation, live

	// Revert the cuts migration and every later one.
	all, err := migrate.Parse(postgres.Migrations)
	if err != nil {
		t.Fatal(err)
	}
	steps := len(all) - slices.IndexFunc(all, func(m migrate.Migration) bool { return m.Version == cutsVersion })
	if _, err := st.MigrateDown(ctx, steps); err != nil {
		t.Fatalf("MigrateDown: %v", err)
	}
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatalf("MigrateUp: %v", err)
	}
	want := map[string]string{ended1.ID: "logout_all", ended2.ID: "logout_all", revoked.ID: "logout", kept.ID: "", later.ID: "", foreign.ID: ""}
	for id, reason := range want {
		got, err := st.SessionByID(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.RevokeReason != reason || got.Revoked() != (reason != "") || got.Generation != 0 {
			t.Errorf("session %s after reverting cuts: %+v; want revoke reason %q, generation 0", id, *got, reason)
		}
		if reason == "logout_all" && !got.RevokeTime.Equal(cut.RevokeTime) {
			t.Errorf("session %s after reverting cuts: revoked at %v, want the cut's %v", id, got.RevokeTime, cut.RevokeTime)
		}
	}
	feed, err := st.RevocationsSince(ctx, 0, base, 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(feed) != 3 {
		t.Fatalf("feed after reverting cuts = %+v; want 3 single-session entries", feed)
	}
	for _, r := range feed[1:] {
		if r.IsCut() || r.Seq <= cut.Seq || (r.SessionID != ended1.ID && r.SessionID != ended2.ID) || r.UserID != u.ID {
			t.Errorf("feed entry %+v; want one of the ended sessions, after seq %d", r, cut.Seq)
		}
	}
	next, err := st.RevokeSession(ctx, later.ID, "logout", base)
	if err != nil || next == nil || next.Seq <= feed[2].Seq {
		t.Errorf("RevokeSession after reverting cuts = %+v, %v; want a seq after %d", next, err, feed[2].Seq)
	}
}

// TestFeedCommitOrder revokes sessions from many goroutines while a follower reads the feed the way
// sessions.Manager does, resuming after the highest seq it has seen. Were seqs handed out in call order
// rather than commit order (a SEQUENCE), the follower could read an entry before one with a smaller seq
// commits, and then never see the latter.
func TestFeedCommitOrder(t *testing.T) {
	ctx := t.Context()
	url := pgtest.NewDatabase(t)
	st := migrated(t, url)
	// The follower has a store of its own, as another process would, so that it polls at full speed
	// instead of queueing behind the writers for a pooled connection.
	follower := open(t, url)
	const (
		writers   = 16
		perWriter = 30
		page      = 7 // small, so that the follower pages while writers append
	)
	type owned struct {
		user     *storage.User
		sessions []storage.Session
	}
	work := make([]owned, writers)
	for w := range work {
		work[w].user = mustUser(t, st)
		for range perWriter {
			work[w].sessions = append(work[w].sessions, mustSession(t, st, work[w].user.ID))
		}
	}

	done, followed := make(chan struct{}), make(chan struct{})
	var read []storage.Revocation
	var followErr error
	go func() {
		defer close(followed)
		read, followErr = storagetest.Follow(done, func(r storage.Revocation) int64 { return r.Seq },
			func(after int64) ([]storage.Revocation, error) {
				return follower.RevocationsSince(ctx, after, base, page)
			})
	}()

	var mu sync.Mutex
	revoked := map[string]bool{}
	cutOff := map[string][]storage.Session{} // by user: the sessions its cut ended
	var wg sync.WaitGroup
	for w := range work {
		wg.Go(func() {
			// Most sessions one by one, the rest with one account cut, so that both appends interleave.
			sessions := work[w].sessions
			for _, s := range sessions[:perWriter-5] {
				rev, err := st.RevokeSession(ctx, s.ID, "logout", base)
				if err != nil || rev == nil {
					t.Errorf("RevokeSession: %+v, %v", rev, err)
					return
				}
				mu.Lock()
				revoked[rev.SessionID] = true
				mu.Unlock()
			}
			cut, n, err := st.RevokeUserSessions(ctx, work[w].user.ID, "", "logout_all", base)
			if err != nil || cut == nil || n != 5 {
				t.Errorf("RevokeUserSessions: %+v, %d ended, %v; want a cut ending 5", cut, n, err)
				return
			}
			mu.Lock()
			cutOff[cut.UserID] = sessions[perWriter-5:]
			for _, s := range cutOff[cut.UserID] {
				revoked[s.ID] = true
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	close(done)
	<-followed
	if followErr != nil {
		t.Fatalf("follower: %v", followErr)
	}
	seen := map[string]int{}
	for _, r := range read {
		if !r.IsCut() {
			seen[r.SessionID]++
			continue
		}
		for _, s := range cutOff[r.UserID] {
			if r.Ends(s.UserID, s.ID, s.Generation) {
				seen[s.ID]++
			}
		}
	}

	if len(revoked) != writers*perWriter {
		t.Fatalf("%d sessions revoked, want %d", len(revoked), writers*perWriter)
	}
	missed := 0
	for id := range revoked {
		switch n := seen[id]; n {
		case 1:
		case 0:
			missed++
		default:
			t.Errorf("follower saw session %s %d times", id, n)
		}
	}
	if missed > 0 {
		t.Errorf("follower missed %d of %d feed entries", missed, len(revoked))
	}
	if len(seen) != len(revoked) {
		t.Errorf("follower saw %d sessions, want %d", len(seen), len(revoked))
	}
}

// TestSeqNeverReused checks that deleting the newest feed entries does not let their seqs come back.
func TestSeqNeverReused(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := mustUser(t, st)
	s := mustSession(t, st, u.ID)
	first, err := st.RevokeSession(ctx, s.ID, "logout", base)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := st.DeleteExpiredSessions(ctx, base.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	u = mustUser(t, st)
	s = mustSession(t, st, u.ID)
	second, err := st.RevokeSession(ctx, s.ID, "logout", base)
	if err != nil {
		t.Fatal(err)
	}
	if second.Seq <= first.Seq {
		t.Errorf("seq after deleting entry %d = %d, want more", first.Seq, second.Seq)
	}
}

// watching is a watcher (a store's WatchFeed or WatchSocketCommands) running on a goroutine of its own,
// with a wake that records when it was called.
type watching struct {
	t        *testing.T
	wakes    chan time.Time
	cancel   context.CancelFunc
	returned chan struct{}
}

// watchBound is how long a test waits for a wake, or for a watcher to return.
const watchBound = 5 * time.Second

// startWatch runs watch until stop is called or the test ends, failing the test if it ever calls wake
// concurrently with itself.
func startWatch(t *testing.T, watch func(context.Context, func())) *watching {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	w := &watching{t: t, wakes: make(chan time.Time, 64), cancel: cancel, returned: make(chan struct{})}
	var inWake atomic.Int32
	go func() {
		defer close(w.returned)
		watch(ctx, func() {
			if inWake.Add(1) != 1 {
				t.Error("wake called concurrently")
			}
			select {
			case w.wakes <- time.Now():
			default:
			}
			inWake.Add(-1)
		})
	}()
	t.Cleanup(cancel)
	return w
}

// await waits for the next wake and returns when it came.
func (w *watching) await(what string) time.Time {
	w.t.Helper()
	select {
	case at := <-w.wakes:
		return at
	case <-time.After(watchBound):
		w.t.Fatalf("no wake within %v %s", watchBound, what)
		return time.Time{}
	}
}

// quiet checks that no wake comes for a while.
func (w *watching) quiet(what string) {
	w.t.Helper()
	select {
	case <-w.wakes:
		w.t.Errorf("wake %s", what)
	case <-time.After(200 * time.Millisecond):
	}
}

// wakesOn runs write, which must succeed, and waits for the wake it causes.
func (w *watching) wakesOn(what string, write func() error) {
	w.t.Helper()
	for len(w.wakes) > 0 {
		<-w.wakes
	}
	start := time.Now()
	if err := write(); err != nil {
		w.t.Fatal(err)
	}
	at := w.await(what)
	w.t.Logf("notify latency %s: %v from the write's call to wake", what, at.Sub(start))
}

// stop cancels the watcher's context and waits for it to return.
func (w *watching) stop() {
	w.t.Helper()
	w.cancel()
	select {
	case <-w.returned:
	case <-time.After(watchBound):
		w.t.Fatal("the watcher did not return after its context was canceled")
	}
}

// killWatcher terminates the backend of the one connection named applicationName, then checks that its
// watcher reconnects and wakes its caller to catch up.
func killWatcher(t *testing.T, st *postgres.Store, w *watching, applicationName string) {
	t.Helper()
	var killed int
	err := st.Pool().QueryRow(t.Context(), `SELECT count(*) FROM (
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()) AS t`, applicationName).Scan(&killed)
	if err != nil || killed != 1 {
		t.Fatalf("terminating the watcher's backend: %d terminated, %v; want 1", killed, err)
	}
	killedAt := time.Now()
	t.Logf("wake %v after the watcher's connection was killed", w.await("after the connection was killed").Sub(killedAt))
}

// TestWatchFeed checks that a revocation through one store wakes a watcher on another store of the same
// database, and that the watcher reconnects, and wakes its caller, after its connection is killed.
func TestWatchFeed(t *testing.T) {
	url := pgtest.NewDatabase(t)
	writer := migrated(t, url)
	w := startWatch(t, open(t, url).WatchFeed)
	w.await("after LISTEN")

	u := mustUser(t, writer)
	revoke := func(what string) {
		t.Helper()
		s := mustSession(t, writer, u.ID)
		w.wakesOn(what, func() error {
			_, err := writer.RevokeSession(t.Context(), s.ID, "logout", base)
			return err
		})
	}
	revoke("on a fresh connection")
	revoke("again")

	// A revocation that changes nothing (the session is revoked already) writes nothing and notifies no one.
	s := mustSession(t, writer, u.ID)
	if _, err := writer.RevokeSession(t.Context(), s.ID, "logout", base); err != nil {
		t.Fatal(err)
	}
	w.await("for the revocation")
	if rev, err := writer.RevokeSession(t.Context(), s.ID, "logout", base); err != nil || rev != nil {
		t.Fatalf("second RevokeSession = %+v, %v", rev, err)
	}
	w.quiet("after a revocation that changed nothing")

	killWatcher(t, writer, w, postgres.FeedApplicationName)
	revoke("after reconnecting")
	w.stop()
}

// TestWatchSocketCommands checks that a socket command appended through one store wakes a watcher on
// another store of the same database, that the socket command feed and the revocation feed wake only their
// own watchers, and that the watcher reconnects, and wakes its caller, after its connection is killed.
func TestWatchSocketCommands(t *testing.T) {
	url := pgtest.NewDatabase(t)
	writer := migrated(t, url)
	watcher := open(t, url)
	sockets := startWatch(t, watcher.WatchSocketCommands)
	feed := startWatch(t, watcher.WatchFeed)
	sockets.await("after LISTEN")
	feed.await("after LISTEN")

	cmd := storage.SocketCommand{Kind: storage.SocketDisconnect, SocketID: storagetest.NewID(), Time: base}
	appendCommand := func(what string) {
		t.Helper()
		sockets.wakesOn(what, func() error {
			_, err := writer.AppendSocketCommand(t.Context(), cmd)
			return err
		})
	}
	appendCommand("on a fresh connection")
	appendCommand("again")
	feed.quiet("of the revocation feed's watcher after socket commands")

	// An append that fails, here on a NUL byte that PostgreSQL text cannot hold, notifies no one.
	bad := cmd
	bad.Reason = "nul\x00byte"
	if _, err := writer.AppendSocketCommand(t.Context(), bad); err == nil {
		t.Fatal("AppendSocketCommand with a NUL byte succeeded")
	}
	sockets.quiet("after an append that failed")

	u := mustUser(t, writer)
	s := mustSession(t, writer, u.ID)
	feed.wakesOn("for a revocation", func() error {
		_, err := writer.RevokeSession(t.Context(), s.ID, "logout", base)
		return err
	})
	sockets.quiet("of the socket command watcher after a revocation")

	killWatcher(t, writer, sockets, postgres.SocketsApplicationName)
	appendCommand("after reconnecting")
	feed.quiet("of the revocation feed's watcher, whose connection was not killed")
	sockets.stop()
	feed.stop()
}

// TestWatchFeedEndsOnClose checks that closing the store stops the watchers whose context is still live,
// and that a watcher on an unreachable database keeps retrying without waking its caller.
func TestWatchFeedEndsOnClose(t *testing.T) {
	for _, reachable := range []bool{true, false} {
		t.Run(fmt.Sprintf("reachable %v", reachable), func(t *testing.T) {
			url := "postgres://latchkey@" + deadAddress(t) + "/db?sslmode=disable"
			if reachable {
				url = pgtest.NewDatabase(t)
			}
			st, err := postgres.Open(t.Context(), url)
			if err != nil {
				t.Fatal(err)
			}
			watchers := map[string]func(context.Context, func()){
				"WatchFeed":           st.WatchFeed,
				"WatchSocketCommands": st.WatchSocketCommands,
			}
			wakes := map[string]*atomic.Int32{}
			var returned sync.WaitGroup
			for name, watch := range watchers {
				n := new(atomic.Int32)
				wakes[name] = n
				returned.Go(func() { watch(context.Background(), func() { n.Add(1) }) })
			}
			time.Sleep(300 * time.Millisecond)
			if err := st.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			done := make(chan struct{})
			go func() {
				returned.Wait()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(watchBound):
				t.Fatal("the watchers did not return after Close")
			}
			for name, n := range wakes {
				if got, want := n.Load() > 0, reachable; got != want {
					t.Errorf("%s: woken = %v, want %v", name, got, want)
				}
			}
		})
	}
}

// deadAddress returns a loopback host:port on which nothing listens.
func deadAddress(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestErrUnavailable(t *testing.T) {
	const password = "Pw-5ecret-9"
	dead := deadAddress(t)
	for _, addr := range []string{
		"postgres://latchkey:" + password + "@" + dead + "/latchkey?sslmode=disable",
		"latchkey:" + password + "@" + dead + "/latchkey", // Nakama's form, sslmode=prefer
	} {
		t.Run(strings.SplitN(addr, ":", 2)[0], func(t *testing.T) {
			ctx := t.Context()
			check := func(op string, err error) {
				t.Helper()
				if !errors.Is(err, storage.ErrUnavailable) {
					t.Errorf("%s: error = %v, want ErrUnavailable", op, err)
				}
				if err != nil && strings.Contains(err.Error(), password) {
					t.Errorf("%s: error shows the password: %v", op, err)
				}
			}
			st, err := postgres.Open(ctx, addr)
			if err != nil {
				check("Open", err)
				return
			}
			defer st.Close()
			check("Ping", st.Ping(ctx))
			_, err = st.UserByID(ctx, storagetest.NewID())
			check("UserByID", err)
			_, err = st.CreateUser(ctx, storage.NewUser{ID: storagetest.NewID(), Username: "u", Kind: storage.IdentityDevice, Identity: "device-1", Time: base})
			check("CreateUser", err)
			_, err = st.RevokeSession(ctx, storagetest.NewID(), "logout", base)
			check("RevokeSession", err)
			_, err = st.RevocationsSince(ctx, 0, base, 10)
			check("RevocationsSince", err)
			check("AppendEvents", st.AppendEvents(ctx, storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: storagetest.NewID()}))
			_, err = st.ListEvents(ctx, storagetest.NewID(), 0, 10)
			check("ListEvents", err)
			_, err = st.DeleteEventsBefore(ctx, base)
			check("DeleteEventsBefore", err)
			check("AddSocket", st.AddSocket(ctx, storage.Socket{ID: storagetest.NewID(), UserID: storagetest.NewID(), SessionID: storagetest.NewID(), Node: "n", CreateTime: base}))
			check("RemoveSocket", st.RemoveSocket(ctx, storagetest.NewID()))
			_, err = st.UserSockets(ctx, storagetest.NewID(), base)
			check("UserSockets", err)
			check("TouchNode", st.TouchNode(ctx, "n", base))
			_, err = st.RemoveNode(ctx, "n")
			check("RemoveNode", err)
			_, err = st.RemoveDeadNodes(ctx, base)
			check("RemoveDeadNodes", err)
			_, err = st.AppendSocketCommand(ctx, storage.SocketCommand{Kind: storage.SocketDisconnect, SocketID: storagetest.NewID(), Time: base})
			check("AppendSocketCommand", err)
			_, err = st.SocketCommandsSince(ctx, 0, 10)
			check("SocketCommandsSince", err)
			_, err = st.LastSocketCommandSeq(ctx)
			check("LastSocketCommandSeq", err)
			_, err = st.DeleteSocketCommandsBefore(ctx, base)
			check("DeleteSocketCommandsBefore", err)
			_, err = st.TicketKeys(ctx)
			check("TicketKeys", err)
			check("AddTicketKey", st.AddTicketKey(ctx, storage.TicketKey{ID: "k", Algorithm: "EdDSA", Private: []byte{1}, Public: []byte{2}, CreateTime: base}))
			check("RedeemTicket", st.RedeemTicket(ctx, storagetest.NewID(), base))
			_, err = st.DeleteRedeemedTicketsBefore(ctx, base)
			check("DeleteRedeemedTicketsBefore", err)
			_, err = st.MigrateUp(ctx)
			check("MigrateUp", err)
			t.Logf("error: %v", st.Ping(ctx))

			// The caller's own cancellation is not unavailability.
			canceled, cancel := context.WithCancel(ctx)
			cancel()
			err = st.Ping(canceled)
			if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
				t.Errorf("Ping(canceled) = %v, want context.Canceled without ErrUnavailable", err)
			}
		})
	}
}

// TestMalformedIDs checks that text that is not a UUID, which the SQLite backend stores as any other text,
// behaves as an id no row has.
func TestMalformedIDs(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := mustUser(t, st)
	s := mustSession(t, st, u.ID)
	const bad = "not-a-uuid"
	if _, err := st.UserByID(ctx, bad); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByID: %v, want ErrNotFound", err)
	}
	if _, err := st.SessionByID(ctx, bad); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("SessionByID: %v, want ErrNotFound", err)
	}
	if _, err := st.RefreshSession(ctx, storage.SessionRefresh{ID: bad, RefreshTime: base, ExpireTime: base}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RefreshSession: %v, want ErrNotFound", err)
	}
	if _, err := st.RevokeSession(ctx, bad, "logout", base); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("RevokeSession: %v, want ErrNotFound", err)
	}
	if _, err := st.CreateSession(ctx, storage.Session{ID: storagetest.NewID(), UserID: bad, CreateTime: base, ExpireTime: base}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("CreateSession(unknown user): %v, want ErrNotFound", err)
	}
	if _, err := st.UserByIdentity(ctx, storage.IdentityDevice, "nul\x00byte"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByIdentity(NUL byte): %v, want ErrNotFound", err)
	}
	// A malformed keep id protects nothing and breaks nothing.
	cut, n, err := st.RevokeUserSessions(ctx, u.ID, bad, "logout_all", base)
	if err != nil || cut == nil || n != 1 || cut.Keep != "" || !cut.Ends(u.ID, s.ID, s.Generation) {
		t.Errorf("RevokeUserSessions with a malformed keep id = %+v, %d ended, %v; want %s ended", cut, n, err, s.ID)
	}

	// The event log: a malformed user id has no events, and callers never append one, so an append that
	// names one (or a malformed session id) is an error that writes nothing.
	if evs, err := st.ListEvents(ctx, bad, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("ListEvents(%q) = %+v, %v; want none", bad, evs, err)
	}
	good := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: u.ID, SessionID: s.ID}
	for _, ev := range []storage.Event{
		{Time: base, Kind: storage.EventUserBanned, UserID: bad},
		{Time: base, Kind: storage.EventSessionCreated, UserID: u.ID, SessionID: bad},
	} {
		if err := st.AppendEvents(ctx, good, ev); err == nil {
			t.Errorf("AppendEvents(%+v) succeeded, want an error", ev)
		}
	}
	if evs, err := st.ListEvents(ctx, u.ID, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("events after rejected appends = %+v, %v; want none", evs, err)
	}
	// The socket registry: a malformed id names no socket and no user has one; callers never register or
	// name one, so an add or a command that does is an error that writes nothing.
	if err := st.RemoveSocket(ctx, bad); err != nil {
		t.Errorf("RemoveSocket(%q) = %v, want nil", bad, err)
	}
	if socks, err := st.UserSockets(ctx, bad, base); err != nil || len(socks) != 0 {
		t.Errorf("UserSockets(%q) = %+v, %v; want none", bad, socks, err)
	}
	if err := st.TouchNode(ctx, "node", base); err != nil {
		t.Fatal(err)
	}
	for _, sock := range []storage.Socket{
		{ID: bad, UserID: u.ID, SessionID: s.ID, Node: "node", CreateTime: base},
		{ID: storagetest.NewID(), UserID: bad, SessionID: s.ID, Node: "node", CreateTime: base},
		{ID: storagetest.NewID(), UserID: u.ID, SessionID: bad, Node: "node", CreateTime: base},
	} {
		if err := st.AddSocket(ctx, sock); err == nil || errors.Is(err, storage.ErrConflict) {
			t.Errorf("AddSocket(%+v) = %v, want an error other than ErrConflict", sock, err)
		}
	}
	if socks, err := st.UserSockets(ctx, u.ID, base); err != nil || len(socks) != 0 {
		t.Errorf("sockets after rejected adds = %+v, %v; want none", socks, err)
	}
	for _, c := range []storage.SocketCommand{
		{Kind: storage.SocketDisconnect, SocketID: bad, Time: base},
		{Kind: storage.SocketSingle, UserID: bad, Time: base},
	} {
		if _, err := st.AppendSocketCommand(ctx, c); err == nil {
			t.Errorf("AppendSocketCommand(%+v) succeeded, want an error", c)
		}
	}
	if seq, err := st.LastSocketCommandSeq(ctx); err != nil || seq != 0 {
		t.Errorf("LastSocketCommandSeq after rejected appends = %d, %v; want 0", seq, err)
	}

	// Upper-case hex is a UUID all the same, and reads back in canonical lower case.
	upper := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: strings.ToUpper(u.ID), SessionID: strings.ToUpper(s.ID)}
	if err := st.AppendEvents(ctx, upper); err != nil {
		t.Fatalf("AppendEvents(upper-case ids): %v", err)
	}
	evs, err := st.ListEvents(ctx, strings.ToUpper(u.ID), 0, 10)
	if err != nil || len(evs) != 1 || evs[0].UserID != u.ID || evs[0].SessionID != s.ID {
		t.Errorf("ListEvents(upper-case id) = %+v, %v; want one event of %s, session %s", evs, err, u.ID, s.ID)
	}
	sock := storage.Socket{ID: storagetest.NewID(), UserID: strings.ToUpper(u.ID), SessionID: strings.ToUpper(s.ID), Node: "node", CreateTime: base}
	if err := st.AddSocket(ctx, sock); err != nil {
		t.Fatalf("AddSocket(upper-case ids): %v", err)
	}
	socks, err := st.UserSockets(ctx, strings.ToUpper(u.ID), base)
	if err != nil || len(socks) != 1 || socks[0].UserID != u.ID || socks[0].SessionID != s.ID {
		t.Errorf("UserSockets(upper-case id) = %+v, %v; want one socket of %s, session %s", socks, err, u.ID, s.ID)
	}
}

// TestAppendEventsAtomic checks that a batch the server rejects part way, here on a NUL byte that
// PostgreSQL text cannot hold, leaves none of its events behind.
func TestAppendEventsAtomic(t *testing.T) {
	ctx := t.Context()
	st := newStore(t)
	u := storagetest.NewID()
	ok := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: u}
	bad := storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: u, Reason: "nul\x00byte"}
	err := st.AppendEvents(ctx, ok, ok, bad)
	if err == nil {
		t.Fatal("AppendEvents with a NUL byte succeeded")
	}
	if errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("AppendEvents with a NUL byte: %v, want an error other than ErrUnavailable", err)
	}
	if evs, err := st.ListEvents(ctx, u, 0, 10); err != nil || len(evs) != 0 {
		t.Errorf("events after a failed append = %+v, %v; want none", evs, err)
	}
}

// BenchmarkUserByID measures the account read on the hot path of GET /v2/account.
func BenchmarkUserByID(b *testing.B) { storagetest.BenchUserByID(b, newStore(b)) }

// BenchmarkRevokeSession measures feed appends, which all queue on the counter row.
func BenchmarkRevokeSession(b *testing.B) {
	ctx := context.Background()
	st := newStore(b)
	u := mustUser(b, st)
	ids := make(chan string, b.N)
	for range b.N {
		ids <- mustSession(b, st, u.ID).ID
	}
	close(ids)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.RevokeSession(ctx, <-ids, "logout", base); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
