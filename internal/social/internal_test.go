package social

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestLifetime(t *testing.T) {
	tests := []struct {
		header map[string]string
		want   time.Duration
	}{
		{nil, defaultTTL},
		{map[string]string{"Cache-Control": "public, max-age=19193, must-revalidate, no-transform"}, 19193 * time.Second},
		{map[string]string{"Cache-Control": "max-age=5"}, minTTL},
		{map[string]string{"Cache-Control": "max-age=999999999"}, maxTTL},
		{map[string]string{"Cache-Control": "max-age=3600", "Age": "600"}, 50 * time.Minute},
		{map[string]string{"Cache-Control": "max-age=3600", "Age": "7200"}, minTTL},
		{map[string]string{"Cache-Control": `max-age="120"`}, 2 * time.Minute},
		{map[string]string{"Cache-Control": "no-store"}, minTTL},
		{map[string]string{"Cache-Control": "max-age=soon"}, minTTL},
		{map[string]string{"Cache-Control": "public"}, defaultTTL},
	}
	for _, tt := range tests {
		h := http.Header{}
		for k, v := range tt.header {
			h.Set(k, v)
		}
		if got := lifetime(h); got != tt.want {
			t.Errorf("lifetime(%v) = %v, want %v", tt.header, got, tt.want)
		}
	}
}

func TestCacheBound(t *testing.T) {
	now := time.Unix(1_900_000_000, 0)
	fetches := 0
	c := newCache(func() time.Time { return now }, 3, func(_ context.Context, _, url string) (string, time.Duration, error) {
		fetches++
		return "doc " + url, time.Hour, nil
	})
	for i := range 10 {
		url := fmt.Sprintf("https://example.test/%d", i)
		got, err := c.get(context.Background(), "test", url, nil)
		if err != nil || got != "doc "+url {
			t.Fatalf("get(%s) = %q, %v", url, got, err)
		}
		now = now.Add(time.Second)
	}
	if c.len() != 3 {
		t.Fatalf("cache holds %d documents, want at most 3", c.len())
	}
	// The newest survive: fetching the last one again costs nothing.
	c.get(context.Background(), "test", "https://example.test/9", nil)
	if fetches != 10 {
		t.Errorf("fetched %d times, want 10", fetches)
	}
}

func TestKeyURLHosts(t *testing.T) {
	v := &Verifier{cfg: withDefaults(Config{})}
	allowed := []string{
		"https://static.gc.apple.com/public-key/gc-prod-10.cer",
		"https://sandbox.gc.apple.com/public-key/gc-sb-2.cer",
		"https://STATIC.GC.APPLE.COM/public-key/gc-prod-10.cer",
		"https://static.gc.apple.com:443/public-key/gc-prod-10.cer",
	}
	refused := []string{
		"http://static.gc.apple.com/public-key/gc-prod-10.cer",
		"https://static.gc.apple.com/",
		"https://static.gc.apple.com",
		"https://apple.com.evil.example/public-key/gc-prod-10.cer",
		"https://evilapple.com/public-key/gc-prod-10.cer",
		"https://apple.com/public-key/gc-prod-10.cer",
		"https://static.gc.apple.com:8443/public-key/gc-prod-10.cer",
		"https://user:pass@static.gc.apple.com/public-key/gc-prod-10.cer",
		"https://static.gc.apple.com\\@evil.example/x",
		"ftp://static.gc.apple.com/x",
		"://",
	}
	for _, u := range allowed {
		if err := v.checkKeyURL(u); err != nil {
			t.Errorf("checkKeyURL(%q) = %v, want allowed", u, err)
		}
	}
	for _, u := range refused {
		if err := v.checkKeyURL(u); err == nil {
			t.Errorf("checkKeyURL(%q) allowed, want refused", u)
		}
	}
	exact := &Verifier{cfg: withDefaults(Config{GameCenter: struct{ KeyHostSuffixes []string }{[]string{"127.0.0.1:8443"}}})}
	if err := exact.checkKeyURL("https://127.0.0.1:8443/gc.cer"); err != nil {
		t.Errorf("exact host:port refused: %v", err)
	}
	for _, u := range []string{"https://127.0.0.1:8444/gc.cer", "https://127.0.0.1/gc.cer", "https://1127.0.0.1:8443/gc.cer"} {
		if exact.checkKeyURL(u) == nil {
			t.Errorf("checkKeyURL(%q) allowed with only 127.0.0.1:8443", u)
		}
	}
}

// FuzzParseJWT checks that parsing never panics and that whatever it accepts is an RS256 token with a kid
// whose signing input is the token's first two parts.
func FuzzParseJWT(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiIsImtpZCI6ImEifQ.e30.c2ln")
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("eyJhbGciOiJIUzI1NiIsImtpZCI6ImEifQ.e30.c2ln")
	f.Add("..")
	f.Add("a.b.c.d")
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := parseJWT(token)
		if err != nil {
			return
		}
		if tok.kid == "" || !strings.HasPrefix(token, tok.signed+".") || strings.Count(token, ".") != 2 {
			t.Fatalf("accepted %q as kid %q, signed %q", token, tok.kid, tok.signed)
		}
	})
}
