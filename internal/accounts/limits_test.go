package accounts

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/limits"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

func lockoutDeps(st storage.Events) Deps {
	return Deps{
		Lockout: limits.LockoutConfig{Failures: 3, Window: 15 * time.Minute, Min: time.Second, Max: 5 * time.Minute, MaxKeys: 100},
		Events:  st,
	}
}

// wantLocked checks for the lockout's refusal and returns its retry delay.
func wantLocked(t *testing.T, err error) time.Duration {
	t.Helper()
	var re *limits.RetryError
	if !errors.Is(err, ErrLoginLocked) || !errors.As(err, &re) {
		t.Fatalf("got %v, want ErrLoginLocked in a RetryError", err)
	}
	return re.After
}

func TestLoginLockout(t *testing.T) {
	st := newStore(t)
	svc, clk := newService(t, st, lockoutDeps(st))
	ctx := WithClientIP(context.Background(), "192.0.2.44")
	res, err := svc.AuthenticateEmail(ctx, "locked@example.com", "password1", "lockme", true)
	if err != nil {
		t.Fatal(err)
	}
	uid := res.User.ID
	for i := range 3 {
		if _, err := svc.AuthenticateEmail(ctx, "locked@example.com", "wrong-pass", "", false); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("wrong password %d: %v", i+1, err)
		}
	}
	// Locked: every attempt is refused without bcrypt, the right password too, by email and by username.
	before := svc.HashesRun()
	for range 50 {
		_, err := svc.AuthenticateEmail(ctx, "locked@example.com", "wrong-pass", "", false)
		if d := wantLocked(t, err); d <= 0 || d > time.Second {
			t.Fatalf("retry after %v, want (0, 1s]", d)
		}
	}
	wantLocked(t, func() error {
		_, err := svc.AuthenticateEmail(ctx, "locked@example.com", "password1", "", false)
		return err
	}())
	wantLocked(t, func() error { _, err := svc.AuthenticateEmail(ctx, "", "password1", "lockme", false); return err }())
	if n := svc.HashesRun() - before; n != 0 {
		t.Errorf("%d bcrypt operations while locked, want 0", n)
	}

	evs, err := st.ListEvents(ctx, uid, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Kind != storage.EventLoginLocked || evs[0].ClientIP != "192.0.2.44" {
		t.Fatalf("events = %+v, want one login_locked from 192.0.2.44", evs)
	}

	// After the lockout, one more wrong password locks again, for twice as long.
	clk.Advance(time.Second)
	if _, err := svc.AuthenticateEmail(ctx, "", "wrong-pass", "lockme", false); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("wrong password after the lockout: %v", err)
	}
	_, err = svc.AuthenticateEmail(ctx, "locked@example.com", "password1", "", false)
	if d := wantLocked(t, err); d != 2*time.Second {
		t.Errorf("second lockout %v, want 2s", d)
	}
	// Once it has run out, the right password logs in and clears the count.
	clk.Advance(2 * time.Second)
	if _, err := svc.AuthenticateEmail(ctx, "locked@example.com", "password1", "", false); err != nil {
		t.Fatalf("right password after the lockout: %v", err)
	}
	for i := range 2 {
		if _, err := svc.AuthenticateEmail(ctx, "locked@example.com", "wrong-pass", "", false); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("after success, wrong password %d: %v", i+1, err)
		}
	}
	if _, err := svc.AuthenticateEmail(ctx, "locked@example.com", "password1", "", false); err != nil {
		t.Errorf("two failures after a success locked the account: %v", err)
	}
	if evs, _ := st.ListEvents(ctx, uid, 0, 10); len(evs) != 2 {
		t.Errorf("%d events, want 2 (one per lockout started)", len(evs))
	}
}

// TestLockoutStopsQueuedAttempts: attempts already waiting for a bcrypt slot when the lockout starts are
// refused without running bcrypt.
func TestLockoutStopsQueuedAttempts(t *testing.T) {
	st := newStore(t)
	d := lockoutDeps(st)
	d.MaxConcurrentHashes, d.MaxHashQueue, d.MaxHashWait = 1, 100, time.Minute
	svc, _ := newService(t, st, d)
	ctx := context.Background()
	if _, err := svc.AuthenticateEmail(ctx, "queued@example.com", "password1", "", true); err != nil {
		t.Fatal(err)
	}
	before := svc.HashesRun()
	var wg sync.WaitGroup
	for range 40 {
		wg.Go(func() {
			_, err := svc.AuthenticateEmail(ctx, "queued@example.com", "wrong-pass", "", false)
			if !errors.Is(err, ErrInvalidCredentials) && !errors.Is(err, ErrLoginLocked) {
				t.Errorf("got %v", err)
			}
		})
	}
	wg.Wait()
	// Three failures start the lockout, which every later holder of the one slot sees.
	if n := svc.HashesRun() - before; n != 3 {
		t.Errorf("%d bcrypt operations for 40 guesses, want 3", n)
	}
}

// hold takes every bcrypt slot until the test ends or the returned function is called.
func hold(t *testing.T, svc *Service) func() {
	t.Helper()
	var releases []func()
	for range svc.hashes.Slots() {
		release, err := svc.hashes.Acquire(context.Background(), "holder")
		if err != nil {
			t.Fatal(err)
		}
		releases = append(releases, release)
	}
	var once sync.Once
	free := func() {
		once.Do(func() {
			for _, r := range releases {
				r()
			}
		})
	}
	t.Cleanup(free)
	return free
}

func TestHashAdmission(t *testing.T) {
	st := newStore(t)
	svc, _ := newService(t, st, Deps{MaxConcurrentHashes: 1, MaxHashQueue: 2, MaxHashWait: 50 * time.Millisecond})
	ctx := WithClientIP(context.Background(), "192.0.2.1")
	if _, err := svc.AuthenticateEmail(ctx, "admit@example.com", "password1", "", true); err != nil {
		t.Fatal(err)
	}
	free := hold(t, svc)

	// A waiter gives up after MaxHashWait with a retryable error.
	start := time.Now()
	_, err := svc.AuthenticateEmail(ctx, "admit@example.com", "password1", "", false)
	var re *limits.RetryError
	if !errors.Is(err, ErrHashBusy) || !errors.As(err, &re) || re.After < time.Second {
		t.Fatalf("waiting past the limit: %v, want ErrHashBusy with a retry delay of at least 1s", err)
	}
	if el := time.Since(start); el < 50*time.Millisecond || el > 5*time.Second {
		t.Errorf("gave up after %v, want about 50ms", el)
	}

	free()

	// With the queue full of this client's requests, its next one is refused at once; new accounts
	// hash under the same admission. (Here the waiters wait as long as the test needs.)
	svc, _ = newService(t, st, Deps{MaxConcurrentHashes: 1, MaxHashQueue: 2, MaxHashWait: time.Minute})
	free = hold(t, svc)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := svc.AuthenticateEmail(ctx, "admit@example.com", "password1", "", false); err != nil {
				t.Errorf("queued login: %v", err)
			}
		})
	}
	for svc.hashes.Queued() != 2 {
		time.Sleep(time.Millisecond)
	}
	start = time.Now()
	if _, err := svc.AuthenticateEmail(ctx, "new@example.com", "password1", "", true); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("queue full: %v, want ErrHashBusy", err)
	}
	if el := time.Since(start); el > 40*time.Millisecond {
		t.Errorf("queue full: answered after %v, want at once", el)
	}
	// Waiters within the limit get the slot when it frees.
	free()
	wg.Wait()
}

// staleUsers misses the next identity lookup, as a lookup that ran just before a racing request
// created the account would.
type staleUsers struct {
	storage.Users
	miss atomic.Bool
}

func (u *staleUsers) UserByIdentity(ctx context.Context, kind storage.IdentityKind, id string) (*storage.User, error) {
	if u.miss.Swap(false) {
		return nil, storage.ErrNotFound
	}
	return u.Users.UserByIdentity(ctx, kind, id)
}

// TestCreateRaceIsNoGuess: a request that lost the race to create an email account, with another
// password, fails like a wrong password but was no guess at an existing account, and locks nothing.
func TestCreateRaceIsNoGuess(t *testing.T) {
	st := newStore(t)
	users := &staleUsers{Users: st}
	d := lockoutDeps(st)
	svc, _ := newService(t, users, d)
	ctx := context.Background()
	if _, err := svc.AuthenticateEmail(ctx, "racing@example.com", "winner-password", "", true); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		users.miss.Store(true)
		if _, err := svc.AuthenticateEmail(ctx, "racing@example.com", fmt.Sprintf("loser-password-%d", i), "", true); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("losing racer %d: %v, want ErrInvalidCredentials", i, err)
		}
	}
	if _, err := svc.AuthenticateEmail(ctx, "racing@example.com", "winner-password", "", false); err != nil {
		t.Errorf("the winner's login after the race: %v", err)
	}
}
