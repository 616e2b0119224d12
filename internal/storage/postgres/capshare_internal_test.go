package postgres

import "testing"

func TestCapShare(t *testing.T) {
	var c capShare
	if c.likely() {
		t.Fatal("a new estimate expects the cap")
	}
	for range 100 {
		c.observe(true)
	}
	if !c.likely() {
		t.Fatalf("after 100 logins at the cap: share %d/%d, want above a third", c.v.Load(), capShareOne)
	}
	for range 200 {
		c.observe(false)
	}
	if c.likely() {
		t.Fatalf("after 200 logins with room: share %d/%d, want below a third", c.v.Load(), capShareOne)
	}
	// One login in four at the cap stays below the threshold.
	for i := range 2000 {
		c.observe(i%4 == 0)
	}
	if c.likely() {
		t.Fatalf("with a quarter of logins at the cap: share %d/%d, want below a third", c.v.Load(), capShareOne)
	}
}
