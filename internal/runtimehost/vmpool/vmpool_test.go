package vmpool

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPlaces(t *testing.T) {
	made, fail := 0, false
	type vm struct{ n int }
	p := New(1, func(context.Context) (*vm, error) {
		if fail {
			return nil, errors.New("cannot make")
		}
		made++
		return &vm{made}, nil
	})
	ctx := context.Background()

	v, err := p.Get(ctx)
	if err != nil || made != 1 {
		t.Fatalf("first get: %v, %d made", err, made)
	}
	// The only VM is busy: a caller waits until its context ends.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := p.Get(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get with every VM busy: %v, want the context's error", err)
	}
	// A waiting caller gets the place of a dropped VM and makes a new one there.
	got := make(chan error, 1)
	go func() {
		w, err := p.Get(ctx)
		if err == nil && w == v {
			err = errors.New("got the dropped VM back")
		}
		got <- err
	}()
	time.Sleep(10 * time.Millisecond)
	p.Drop()
	if err := <-got; err != nil || made != 2 {
		t.Fatalf("after a discard: %v, %d made", err, made)
	}
	// A VM that cannot be made leaves its place free for the next caller.
	p.Drop()
	fail = true
	if _, err := p.Get(ctx); err == nil {
		t.Fatal("get succeeded without a VM")
	}
	fail = false
	if _, err := p.Get(ctx); err != nil || made != 3 {
		t.Fatalf("get after a failed make: %v, %d made", err, made)
	}
}
