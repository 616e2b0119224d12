package sqlite_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/storagetest"
)

// recorder is a storage.Observer that counts calls and failures by operation.
type recorder struct {
	mu            sync.Mutex
	calls, failed map[string]int
}

func newRecorder() *recorder {
	return &recorder{calls: map[string]int{}, failed: map[string]int{}}
}

func (r *recorder) Operation(name string) func(time.Duration, bool) {
	return func(d time.Duration, failed bool) {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.calls[name]++
		if failed {
			r.failed[name]++
		}
	}
}

// TestObservedConformance: a store wrapped by storage.Observe passes the conformance suite, so the timing
// layer changes no answer, and it reports the suite's calls by operation.
func TestObservedConformance(t *testing.T) {
	rec := newRecorder()
	storagetest.Run(t, func(t *testing.T) storage.Store { return storage.Observe(newStore(t), rec) })
	for _, op := range []string{"CreateUser", "UserByIdentity", "StartSession", "RevokeSession", "RevocationsSince", "AppendEvents", "RedeemTicket", "TicketKeys"} {
		if rec.calls[op] == 0 {
			t.Errorf("no %s call was reported", op)
		}
	}
}

// TestObservedFailures: the contract's answers (not found, taken) are not failures; a store fault is.
func TestObservedFailures(t *testing.T) {
	rec := newRecorder()
	st := storage.Observe(newStore(t), rec)
	ctx := context.Background()
	if _, err := st.UserByID(ctx, "00000000-0000-7000-8000-000000000000"); err == nil {
		t.Fatal("UserByID of an unknown id succeeded")
	}
	nu := storage.NewUser{ID: "00000000-0000-7000-8000-000000000001", Username: "obs", Kind: storage.IdentityDevice, Identity: "observed-device", Time: time.Now()}
	if _, err := st.CreateUser(ctx, nu); err != nil {
		t.Fatal(err)
	}
	nu.ID = "00000000-0000-7000-8000-000000000002"
	if _, err := st.CreateUser(ctx, nu); err == nil {
		t.Fatal("a second account with the same username and device was created")
	}
	if _, err := st.DB().ExecContext(ctx, "PRAGMA query_only = 1"); err != nil {
		t.Fatal(err)
	}
	if err := st.CheckWrite(ctx); err == nil {
		t.Fatal("CheckWrite on a read-only connection succeeded")
	}
	want := map[string][2]int{"UserByID": {1, 0}, "CreateUser": {2, 0}, "CheckWrite": {1, 1}}
	for op, w := range want {
		if got := [2]int{rec.calls[op], rec.failed[op]}; got != w {
			t.Errorf("%s: calls, failed = %v, want %v", op, got, w)
		}
	}
}
