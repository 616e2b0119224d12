package limits

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/testclock"
)

// newClock returns the injected clock: tests move time instead of sleeping.
func newClock() *testclock.Clock { return testclock.New(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) }

// near allows for the float arithmetic of token buckets.
func near(got, want time.Duration) bool {
	return got > want-time.Microsecond && got < want+time.Microsecond
}

func TestLimiterBucket(t *testing.T) {
	clk := newClock()
	l := NewLimiter(Config{Rate: 2, Burst: 3, MaxKeys: 10, Clock: clk.Now})
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, wait := l.Allow("a")
	if ok {
		t.Fatal("request past the burst allowed")
	}
	if !near(wait, 500*time.Millisecond) {
		t.Errorf("retry after %v, want 500ms (one token at 2/s)", wait)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("another key was refused")
	}
	clk.Advance(499 * time.Millisecond)
	if ok, wait := l.Allow("a"); ok || !near(wait, time.Millisecond) {
		t.Errorf("after 499ms: ok %v, retry after %v; want refused, 1ms", ok, wait)
	}
	clk.Advance(time.Millisecond)
	if ok, _ := l.Allow("a"); !ok {
		t.Error("refused once a token was due")
	}
	// A long pause refills the bucket to its size, no further.
	clk.Advance(time.Hour)
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("after a pause, request %d refused", i+1)
		}
	}
	if ok, _ := l.Allow("a"); ok {
		t.Error("bucket refilled past its size")
	}
}

func TestLimiterDisabled(t *testing.T) {
	var l *Limiter = NewLimiter(Config{Rate: 0, Burst: 1})
	if l != nil {
		t.Fatal("rate 0 should disable the limiter")
	}
	for range 100 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatal("a nil limiter refused")
		}
	}
	if l.Len() != 0 {
		t.Error("a nil limiter tracks keys")
	}
}

func TestLimiterEvictsLeastRecentlyUsed(t *testing.T) {
	clk := newClock()
	l := NewLimiter(Config{Rate: 1, Burst: 1, MaxKeys: 3, Clock: clk.Now})
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k) // each bucket is now empty
	}
	l.Allow("a") // a is now the most recently used; b the least
	l.Allow("d") // evicts b
	if n := l.Len(); n != 3 {
		t.Fatalf("tracking %d keys, bound is 3", n)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Error("the evicted key should start with a full bucket")
	}
	// That evicted c (a, d, b remain), so a and d are still empty.
	for _, k := range []string{"a", "d"} {
		if ok, _ := l.Allow(k); ok {
			t.Errorf("key %s was evicted, want it kept", k)
		}
	}
	for i := range 10000 {
		l.Allow(fmt.Sprint("k", i))
	}
	if n := l.Len(); n != 3 {
		t.Errorf("tracking %d keys after churn, bound is 3", n)
	}
}

func TestLimiterConcurrent(t *testing.T) {
	clk := newClock()
	l := NewLimiter(Config{Rate: 1, Burst: 50, MaxKeys: 8, Clock: clk.Now})
	var wg sync.WaitGroup
	var mu sync.Mutex
	allowed := map[string]int{}
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				k := fmt.Sprint("k", (g+i)%4)
				if ok, _ := l.Allow(k); ok {
					mu.Lock()
					allowed[k]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for k, n := range allowed {
		if n != 50 {
			t.Errorf("key %s: %d allowed with the clock stopped, want exactly the burst, 50", k, n)
		}
	}
}

func TestLockout(t *testing.T) {
	clk := newClock()
	l := NewLockout(LockoutConfig{Failures: 3, Window: time.Minute, Min: time.Second, Max: 5 * time.Second, MaxKeys: 10, Clock: clk.Now})
	for i := range 2 {
		if d := l.Fail("u"); d != 0 {
			t.Fatalf("failure %d started a %v lockout", i+1, d)
		}
		if d := l.Locked("u"); d != 0 {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	if d := l.Fail("u"); d != time.Second {
		t.Fatalf("third failure started %v, want 1s", d)
	}
	if d := l.Locked("u"); d != time.Second {
		t.Errorf("Locked = %v, want 1s", d)
	}
	if d := l.Locked("other"); d != 0 {
		t.Errorf("another key locked for %v", d)
	}
	// A failure that was under way when the lockout started lengthens it, but starts nothing new.
	if d := l.Fail("u"); d != 0 {
		t.Errorf("failure while locked reported a new %v lockout", d)
	}
	if d := l.Locked("u"); d != 2*time.Second {
		t.Errorf("Locked = %v, want 2s (doubled)", d)
	}
	// Each further failure after a lockout doubles it, up to the maximum.
	for _, want := range []time.Duration{4 * time.Second, 5 * time.Second, 5 * time.Second} {
		clk.Advance(l.Locked("u"))
		if d := l.Locked("u"); d != 0 {
			t.Fatalf("still locked for %v after waiting", d)
		}
		if d := l.Fail("u"); d != want {
			t.Errorf("lockout %v, want %v", d, want)
		}
	}
	// A success forgets everything.
	clk.Advance(l.Locked("u"))
	l.Succeed("u")
	if n := l.Len(); n != 0 {
		t.Errorf("tracking %d keys after success", n)
	}
	for i := range 2 {
		if d := l.Fail("u"); d != 0 {
			t.Fatalf("after success, failure %d locked for %v", i+1, d)
		}
	}
	// Failures further apart than the window start the count afresh.
	clk.Advance(time.Minute + time.Second)
	if d := l.Fail("u"); d != 0 {
		t.Errorf("failure after the window locked for %v", d)
	}
}

func TestLockoutBounded(t *testing.T) {
	clk := newClock()
	l := NewLockout(LockoutConfig{Failures: 1, Window: time.Minute, Min: time.Second, Max: time.Minute, MaxKeys: 5, Clock: clk.Now})
	for i := range 1000 {
		l.Fail(fmt.Sprint("u", i))
	}
	if n := l.Len(); n != 5 {
		t.Errorf("tracking %d keys, bound is 5", n)
	}
	if l.Locked("u999") == 0 || l.Locked("u0") != 0 {
		t.Error("want the newest key kept and the oldest forgotten")
	}
}

func TestLockoutDisabled(t *testing.T) {
	l := NewLockout(LockoutConfig{Failures: 0})
	for range 100 {
		l.Fail("u")
	}
	if l.Locked("u") != 0 {
		t.Error("a disabled lockout locked")
	}
}

func TestClientAddr(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8:ffff::/48"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		remote   string
		xff      []string
		ip, port string
	}{
		{"no header", "198.51.100.1:4711", nil, "198.51.100.1", "4711"},
		{"untrusted peer's header is ignored", "198.51.100.1:4711", []string{"203.0.113.9"}, "198.51.100.1", "4711"},
		{"trusted peer, one hop", "10.1.2.3:80", []string{"203.0.113.9"}, "203.0.113.9", ""},
		{"single trusted address", "192.0.2.7:80", []string{"203.0.113.9"}, "203.0.113.9", ""},
		{"right-most untrusted wins over a spoofed left", "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.9"}, "203.0.113.9", ""},
		{"trusted hops are skipped", "10.1.2.3:80", []string{"1.1.1.1, 203.0.113.9, 10.9.9.9"}, "203.0.113.9", ""},
		{"several header lines", "10.1.2.3:80", []string{"1.1.1.1", "203.0.113.9", "10.9.9.9"}, "203.0.113.9", ""},
		{"every hop trusted: the left-most", "10.1.2.3:80", []string{"10.0.0.1, 10.0.0.2"}, "10.0.0.1", ""},
		{"garbage stops the walk", "10.1.2.3:80", []string{"evil, 10.0.0.2"}, "10.0.0.2", ""},
		{"garbage at the right: the peer", "10.1.2.3:80", []string{"203.0.113.9, nonsense"}, "10.1.2.3", "80"},
		{"empty header: the peer", "10.1.2.3:80", []string{""}, "10.1.2.3", "80"},
		{"entry with a port", "10.1.2.3:80", []string{"203.0.113.9:5555"}, "203.0.113.9", "5555"},
		{"IPv6 entry with a port", "10.1.2.3:80", []string{"[2001:db8::1]:5555"}, "2001:db8::1", "5555"},
		{"IPv6 trusted peer", "[2001:db8:ffff::1]:80", []string{"2001:db8::1"}, "2001:db8::1", ""},
		{"IPv4-mapped peer", "[::ffff:10.1.2.3]:80", []string{"203.0.113.9"}, "203.0.113.9", ""},
		{"peer not an address", "pipe", []string{"203.0.113.9"}, "pipe", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ip, port := proxies.ClientAddr(tt.remote, tt.xff)
			if ip != tt.ip || port != tt.port {
				t.Errorf("ClientAddr = %q, %q; want %q, %q", ip, port, tt.ip, tt.port)
			}
		})
	}
	// Without trusted proxies the header never counts.
	if ip, _ := Proxies(nil).ClientAddr("10.1.2.3:80", []string{"203.0.113.9"}); ip != "10.1.2.3" {
		t.Errorf("no trusted proxies: %q, want the peer", ip)
	}
}

func TestParseProxy(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.0/8":       "10.0.0.0/8",
		"10.1.2.3/8":       "10.0.0.0/8",
		"192.0.2.7":        "192.0.2.7/32",
		"::ffff:192.0.2.7": "192.0.2.7/32",
		"2001:db8::/32":    "2001:db8::/32",
		" 2001:db8::1 ":    "2001:db8::1/128",
	} {
		p, err := ParseProxy(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseProxy(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
	for _, bad := range []string{"", "10.0.0.0/33", "example.com", "10.0.0.0/8/8"} {
		if _, err := ParseProxy(bad); err == nil {
			t.Errorf("ParseProxy(%q) accepted", bad)
		}
	}
}

func TestKey(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1":             "192.0.2.1",
		"::ffff:192.0.2.1":      "192.0.2.1",
		"2001:db8:1:2:3:4:5:6":  "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::99": "2001:db8:1:2::/64",
		"pipe":                  "pipe",
	} {
		if got := Key(in); got != want {
			t.Errorf("Key(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int64{0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 5 * time.Minute: 300} {
		if got := (&RetryError{After: d}).RetryAfterSeconds(); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}
