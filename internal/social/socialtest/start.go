package socialtest

import "testing"

// Start runs the stand-ins for the length of the test, with the CA file in the test's temporary directory.
func Start(t testing.TB) *Providers {
	t.Helper()
	p, err := New(t.TempDir())
	if err != nil {
		t.Fatalf("socialtest: %v", err)
	}
	t.Cleanup(p.Close)
	return p
}
