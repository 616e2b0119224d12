package postgres

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// TestWatchFeedIdleCheck runs the watcher with an idle check far shorter than the gaps between
// notifications: the checks must keep the connection, so the caller is woken once after LISTEN and once per
// revocation, never for a reconnection.
func TestWatchFeedIdleCheck(t *testing.T) {
	defer func(d time.Duration) { feedIdleCheck = d }(feedIdleCheck)
	feedIdleCheck = 20 * time.Millisecond

	st, err := Open(t.Context(), pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := t.Context()
	if _, err := st.MigrateUp(ctx); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2031, 1, 2, 3, 4, 5, 0, time.UTC)
	u, err := st.CreateUser(ctx, storage.NewUser{
		ID: "00000000-0000-4000-8000-000000000001", Username: "u", Kind: storage.IdentityDevice, Identity: "device-0001", Time: at,
	})
	if err != nil {
		t.Fatal(err)
	}

	var wakes atomic.Int32
	watchCtx, cancel := context.WithCancel(ctx)
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		st.WatchFeed(watchCtx, func() { wakes.Add(1) })
	}()
	waitFor := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for wakes.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d wakes, want %d", wakes.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor(1)
	for i := range 3 {
		time.Sleep(10 * feedIdleCheck) // several idle checks
		id := fmt.Sprintf("00000000-0000-4000-8000-%012d", 100+i)
		if _, err := st.CreateSession(ctx, storage.Session{ID: id, UserID: u.ID, CreateTime: at, ExpireTime: at.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if _, err := st.RevokeSession(ctx, id, "logout", at); err != nil {
			t.Fatal(err)
		}
		waitFor(int32(2 + i))
	}
	time.Sleep(5 * feedIdleCheck)
	if got := wakes.Load(); got != 4 {
		t.Errorf("%d wakes, want 4 (one after LISTEN, one per revocation)", got)
	}
	cancel()
	<-returned
}
