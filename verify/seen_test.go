package verify

import (
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

func TestSeenSetForgetsAtExpiry(t *testing.T) {
	s := newSeenSet(3)
	id := func(b byte) [16]byte { return [16]byte{b} }
	if err := s.add(id(1), 110, 100); err != nil {
		t.Fatal(err)
	}
	if err := s.add(id(1), 110, 109); !errors.Is(err, ErrReplayed) {
		t.Fatalf("the same id before its expiry: %v, want ErrReplayed", err)
	}
	s.add(id(2), 105, 100)
	s.add(id(3), 120, 100)
	if err := s.add(id(4), 120, 104); !errors.Is(err, ErrBusy) {
		t.Fatalf("a fourth id in a set of three unexpired: %v, want ErrBusy", err)
	}
	// At 105 the ticket of id 2 has expired (exp is strict), so its place is free.
	if err := s.add(id(4), 120, 105); err != nil {
		t.Fatalf("after an expiry: %v", err)
	}
	if _, ok := s.ids[id(2)]; ok || len(s.ids) != 3 {
		t.Errorf("ids %v, want 1, 3 and 4", s.ids)
	}
}

func TestExpiriesHeap(t *testing.T) {
	var h expiries
	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		h.push(expiry{exp: r.Int64N(500)})
	}
	last := int64(-1)
	for range 1000 {
		e := h.pop()
		if e.exp < last {
			t.Fatalf("popped %d after %d", e.exp, last)
		}
		last = e.exp
	}
	if len(h) != 0 {
		t.Errorf("%d left", len(h))
	}
}

// TestClockNeverGoesBack sets the wall clock back after a ticket expired: it stays expired, although the
// set of seen ids has forgotten it.
func TestClockNeverGoesBack(t *testing.T) {
	wall := time.Unix(1000, 0)
	v, err := New(Config{BaseURL: "http://127.0.0.1:1", VerifierKey: "k", Audience: "a", Now: func() time.Time { return wall }})
	if err != nil {
		t.Fatal(err)
	}
	if got := v.now(); got != 1000 {
		t.Fatalf("now %d", got)
	}
	wall = time.Unix(900, 0)
	if got := v.now(); got != 1000 {
		t.Errorf("after the wall clock went back 100 s, now is %d, want 1000", got)
	}
	wall = time.Unix(1001, 0)
	if got := v.now(); got != 1001 {
		t.Errorf("now %d, want 1001", got)
	}
}
