package limits

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// waitQueued waits until n callers are queued.
func waitQueued(t *testing.T, a *Admission, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for a.Queued() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d queued, want %d", a.Queued(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// acquireAsync starts an Acquire and returns the channel its outcome arrives on.
func acquireAsync(a *Admission, ctx context.Context, key string) chan func() {
	out := make(chan func(), 1)
	go func() {
		release, err := a.Acquire(ctx, key)
		if err != nil {
			out <- nil
			return
		}
		out <- release
	}()
	return out
}

func TestAdmissionBound(t *testing.T) {
	a := NewAdmission(AdmissionConfig{Slots: 2, MaxQueue: 100, MaxWait: time.Minute})
	var running, peak atomic.Int64
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			release, err := a.Acquire(context.Background(), string(rune('a'+i%5)))
			if err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(time.Millisecond)
			running.Add(-1)
			release()
		})
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Errorf("peak %d at once, want 2", p)
	}
	if a.Running() != 0 || a.Queued() != 0 {
		t.Errorf("after all released: %d running, %d queued", a.Running(), a.Queued())
	}
}

func TestAdmissionQueueFullAndWait(t *testing.T) {
	a := NewAdmission(AdmissionConfig{Slots: 1, MaxQueue: 2, MaxWait: 50 * time.Millisecond})
	release, err := a.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	w1, w2 := acquireAsync(a, context.Background(), "a"), acquireAsync(a, context.Background(), "a")
	waitQueued(t, a, 2)
	// The queue is full, and the newcomer is the same client: refused at once.
	start := time.Now()
	if _, err := a.Acquire(context.Background(), "a"); !errors.Is(err, ErrBusy) {
		t.Errorf("queue full: %v, want ErrBusy", err)
	}
	if el := time.Since(start); el > 20*time.Millisecond {
		t.Errorf("queue full: refused after %v, want at once", el)
	}
	// The waiters give up after MaxWait.
	if <-w1 != nil || <-w2 != nil {
		t.Error("a waiter got a slot that was never freed")
	}
	if a.Queued() != 0 {
		t.Errorf("%d still queued", a.Queued())
	}
	// A caller whose context ends gives up with its error.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := a.Acquire(ctx, "b"); done <- err }()
	waitQueued(t, a, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	// A waiter within its wait gets the slot when it is freed.
	w := acquireAsync(a, context.Background(), "c")
	waitQueued(t, a, 1)
	release()
	if r := <-w; r == nil {
		t.Fatal("waiter did not get the freed slot")
	} else {
		r()
	}
	if a.Running() != 0 {
		t.Errorf("%d running after every release", a.Running())
	}
}

func TestAdmissionNoQueue(t *testing.T) {
	a := NewAdmission(AdmissionConfig{Slots: 1, MaxQueue: 0, MaxWait: time.Second})
	release, err := a.Acquire(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Acquire(context.Background(), "b"); !errors.Is(err, ErrBusy) {
		t.Errorf("no queue: %v, want ErrBusy", err)
	}
	release()
}

// burst takes the one slot of a for client "burst" and queues n more of its requests, oldest first.
func burst(t *testing.T, a *Admission, n int) (release func(), waiters []chan func()) {
	t.Helper()
	release, err := a.Acquire(context.Background(), "burst")
	if err != nil {
		t.Fatal(err)
	}
	for range n {
		waiters = append(waiters, acquireAsync(a, context.Background(), "burst"))
		waitQueued(t, a, len(waiters))
	}
	return release, waiters
}

// served waits for a waiter's slot and gives it back.
func served(t *testing.T, w chan func(), what string) {
	t.Helper()
	select {
	case release := <-w:
		if release == nil {
			t.Fatalf("%s was refused", what)
		}
		release()
	case <-time.After(5 * time.Second):
		t.Fatalf("%s was not served", what)
	}
}

// TestAdmissionFairness: a client that holds no slot is served before the next waiter of a client that
// holds one, whatever the arrival order.
func TestAdmissionFairness(t *testing.T) {
	a := NewAdmission(AdmissionConfig{Slots: 1, MaxQueue: 10, MaxWait: time.Minute})
	release, waiters := burst(t, a, 5)
	other := acquireAsync(a, context.Background(), "other")
	waitQueued(t, a, 6)
	release()
	select {
	case r := <-other:
		if r == nil {
			t.Fatal("the other client was refused")
		}
		if a.Queued() != 5 {
			t.Fatalf("%d queued while the other client holds the slot, want every burst waiter", a.Queued())
		}
		r()
	case <-time.After(5 * time.Second):
		t.Fatal("the other client was not served")
	}
	for i, w := range waiters {
		served(t, w, fmt.Sprint("burst waiter ", i))
	}
}

// TestAdmissionNewcomerDisplacesHeaviest: with the queue full of one client's waiters, another client's
// request takes the newest one's place.
func TestAdmissionNewcomerDisplacesHeaviest(t *testing.T) {
	a := NewAdmission(AdmissionConfig{Slots: 1, MaxQueue: 3, MaxWait: time.Minute})
	release, waiters := burst(t, a, 3)
	other := acquireAsync(a, context.Background(), "other")
	if r := <-waiters[2]; r != nil {
		t.Fatal("the newest burst waiter kept its place")
	}
	waitQueued(t, a, 3)
	// A second newcomer of the same client does not displace anyone: burst has 2, other 1.
	if _, err := a.Acquire(context.Background(), "other"); !errors.Is(err, ErrBusy) {
		t.Errorf("second newcomer: %v, want ErrBusy", err)
	}
	release()
	served(t, other, "the newcomer")
	for i, w := range waiters[:2] {
		served(t, w, fmt.Sprint("kept burst waiter ", i))
	}
}
