package sqlite

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

func openMigrated(t *testing.T) *Store {
	t.Helper()
	st, err := Open(t.Context(), filepath.Join(t.TempDir(), "commit.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.MigrateUp(t.Context()); err != nil {
		t.Fatal(err)
	}
	return st
}

// hold occupies the committer with one operation until the returned release is called, so that the
// operations queued meanwhile form the next batch together.
func hold(t *testing.T, st *Store) (release func()) {
	t.Helper()
	started, gate := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- st.commit.write(context.Background(), func(*wtx) error {
			close(started)
			<-gate
			return nil
		})
	}()
	<-started
	return func() {
		close(gate)
		if err := <-done; err != nil {
			t.Errorf("holding operation: %v", err)
		}
	}
}

// queued waits until n operations wait in the committer's queue.
func queued(t *testing.T, st *Store, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(st.commit.queue) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d operations queued, want %d", len(st.commit.queue), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func countUsers(t *testing.T, st *Store, name string) int {
	t.Helper()
	var n int
	if err := st.read.db.QueryRow(`SELECT count(*) FROM users WHERE username = ?`, name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func insertUser(w *wtx, name string) error {
	_, err := w.exec(`INSERT INTO users (id, username, create_time, update_time) VALUES (?, ?, 0, 0)`, name+"-id", name)
	return err
}

// TestBatchOwnFailure: operations queued together share one transaction; one (writeAll) that writes and
// then fails on its own is rolled back to its savepoint alone, and the others commit.
func TestBatchOwnFailure(t *testing.T) {
	st := openMigrated(t)
	release := hold(t, st)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, name := range []string{"before", "failing", "after"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.commit.writeAll(t.Context(), func(w *wtx) error {
				if err := insertUser(w, name); err != nil {
					return err
				}
				if name == "failing" {
					return storage.ErrConflict
				}
				return nil
			})
		}()
		queued(t, st, i+1) // keeps the queue order
	}
	before := st.commit.batches.Load()
	release()
	wg.Wait()
	if got := st.commit.batches.Load() - before; got != 2 { // the holding one, then the three together
		t.Errorf("%d batches after the release, want 2", got)
	}
	if errs[0] != nil || !errors.Is(errs[1], storage.ErrConflict) || errs[2] != nil {
		t.Fatalf("errors = %v; want nil, ErrConflict, nil", errs)
	}
	for name, want := range map[string]int{"before": 1, "failing": 0, "after": 1} {
		if got := countUsers(t, st, name); got != want {
			t.Errorf("user %s: %d rows, want %d", name, got, want)
		}
	}
}

// TestBatchFault: an error that is not an operation's own fails the whole batch: nothing of it commits and
// every operation in it gets the error.
func TestBatchFault(t *testing.T) {
	st := openMigrated(t)
	release := hold(t, st)
	boom := errors.New("boom")
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, name := range []string{"good", "bad"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = st.commit.write(t.Context(), func(w *wtx) error {
				if err := insertUser(w, name); err != nil {
					return err
				}
				if name == "bad" {
					return boom
				}
				return nil
			})
		}()
		queued(t, st, i+1)
	}
	release()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, boom) {
			t.Errorf("operation %d: %v, want the batch's failure", i, err)
		}
	}
	if countUsers(t, st, "good") != 0 {
		t.Error("an operation of a failed batch was committed")
	}
	// The committer goes on.
	if err := st.commit.write(t.Context(), func(w *wtx) error { return insertUser(w, "later") }); err != nil || countUsers(t, st, "later") != 1 {
		t.Errorf("write after a failed batch: %v", err)
	}
}

// TestBatchSkipsGoneCallers: an operation whose caller's context ended while it was queued never runs.
func TestBatchSkipsGoneCallers(t *testing.T) {
	st := openMigrated(t)
	release := hold(t, st)
	ctx, cancel := context.WithCancel(t.Context())
	ran := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		errc <- st.commit.write(ctx, func(w *wtx) error {
			ran <- struct{}{}
			return insertUser(w, "gone")
		})
	}()
	queued(t, st, 1)
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("caller got %v, want context.Canceled", err)
	}
	release()
	// A later write is in a later batch, so once it is answered the skipped one has been dealt with.
	if err := st.commit.write(t.Context(), func(w *wtx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ran:
		t.Error("the operation of a caller that had gone ran")
	default:
	}
	if countUsers(t, st, "gone") != 0 {
		t.Error("the operation of a caller that had gone was committed")
	}
}

// TestBatchesUnderLoad: concurrent writers share transactions (fewer commits than writes), each answered
// with its own outcome, and a closed store answers at once.
func TestBatchesUnderLoad(t *testing.T) {
	st := openMigrated(t)
	const writers, each = 32, 20
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				name := fmt.Sprintf("u%d-%d", w, i)
				if i == each-1 {
					name = "dup" // every writer's last insert clashes with the others'
				}
				errs <- st.commit.write(t.Context(), func(x *wtx) error { return insertUser(x, name) })
			}
		}()
	}
	wg.Wait()
	close(errs)
	clashes := 0
	for err := range errs {
		if err != nil {
			if _, _, ok := constraint(err); !ok {
				t.Fatalf("unexpected error: %v", err)
			}
			clashes++
		}
	}
	if clashes != writers-1 || countUsers(t, st, "dup") != 1 {
		t.Errorf("%d clashes on the shared name, want %d", clashes, writers-1)
	}
	if b, o := st.commit.batches.Load(), st.commit.ops.Load(); b >= o {
		t.Errorf("%d operations in %d transactions: no batching", o, b)
	}
	st.Close()
	if err := st.commit.write(t.Context(), func(*wtx) error { return nil }); !errors.Is(err, errClosed) {
		t.Errorf("write after Close: %v, want errClosed", err)
	}
}

// TestIdentityLookupsUseIndexes: every lookup by identity (the platform ones through partial indexes)
// searches an index rather than scanning the accounts.
func TestIdentityLookupsUseIndexes(t *testing.T) {
	st := openMigrated(t)
	for _, c := range identityColumns {
		rows, err := st.read.db.Query(`EXPLAIN QUERY PLAN `+queries[c.userBy], "x")
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) == 0 || !strings.Contains(plan[0], "USING INDEX") && !strings.Contains(plan[0], "USING COVERING INDEX") {
			t.Errorf("lookup by %s: plan %q, want an index search", c.name, plan)
		}
	}
}

// walFrames returns the number of frames in the WAL, from a passive checkpoint (which never starts the WAL
// over by itself).
func walFrames(t *testing.T, st *Store) int {
	t.Helper()
	var busy, frames, done int
	if err := st.write.db.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &done); err != nil {
		t.Fatal(err)
	}
	return frames
}

// TestCheckpointStartsTheWALOver: writes made while a reader keeps an old snapshot pile up in the WAL,
// which SQLite's own checkpoints cannot start over; the committer's checkpoint does once the reader is
// gone, so the next write lands at the WAL's beginning.
func TestCheckpointStartsTheWALOver(t *testing.T) {
	st := openMigrated(t)
	write := func(name string) {
		if err := st.commit.write(t.Context(), func(w *wtx) error { return insertUser(w, name) }); err != nil {
			t.Fatal(err)
		}
	}
	write("first")
	reader, err := st.read.db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	if _, err := reader.ExecContext(t.Context(), `BEGIN DEFERRED`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := reader.QueryRowContext(t.Context(), `SELECT count(*) FROM users`).Scan(&n); err != nil { // pins the snapshot
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 300 {
		write(fmt.Sprintf("pinned-%d", i))
	}
	// The checkpoints attempted meanwhile gave up after a short wait each instead of holding writes back.
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("300 writes under a pinned reader took %v", d)
	}
	if got := walFrames(t, st); got < 300 {
		t.Fatalf("%d WAL frames after 300 writes under a pinned reader; the test needs them to pile up", got)
	}
	if _, err := reader.ExecContext(t.Context(), `ROLLBACK`); err != nil {
		t.Fatal(err)
	}
	write("after the reader")
	if got := walFrames(t, st); got < 300 {
		t.Fatalf("%d WAL frames: SQLite started the WAL over by itself; the test shows nothing", got)
	}
	before := st.commit.checkpoints.Load()
	st.commit.lastCheckpoint.Store(0) // due at once
	write("before the checkpoint")    // the committer checkpoints after answering this batch
	for deadline := time.Now().Add(5 * time.Second); st.commit.checkpoints.Load() == before; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint ran")
		}
	}
	write("next")
	if got := walFrames(t, st); got > 20 {
		t.Errorf("%d WAL frames after the checkpoint, want the WAL started over", got)
	}
}
