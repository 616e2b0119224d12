package social_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
)

func TestGameCenter(t *testing.T) {
	p := socialtest.Start(t)
	ctx := context.Background()
	now := time.Now()
	valid := p.GameCenter("T:_9f2c", socialtest.BundleID, now)
	edit := func(f func(*social.GameCenterCredential)) social.GameCenterCredential {
		c := valid
		f(&c)
		return c
	}
	tests := []struct {
		name    string
		edit    func(*social.Config)
		cred    social.GameCenterCredential
		want    error
		fetches bool // whether the certificate may be fetched
	}{
		{"valid DER certificate", nil, valid, nil, true},
		{"valid PEM certificate", nil, edit(func(c *social.GameCenterCredential) {
			c.PublicKeyURL = strings.TrimSuffix(c.PublicKeyURL, ".cer") + ".pem"
		}), nil, true},
		{"other bundle id without social.apple.bundle_id", func(c *social.Config) { c.Apple.BundleID = "" },
			p.GameCenter("T:_9f2c", "com.example.other", now), nil, true},
		{"bundle id is not social.apple.bundle_id", nil, p.GameCenter("T:_9f2c", "com.example.other", now), social.ErrInvalid, false},
		{"player id changed", nil, edit(func(c *social.GameCenterCredential) { c.PlayerID = "T:_other" }), social.ErrInvalid, true},
		{"timestamp changed", nil, edit(func(c *social.GameCenterCredential) { c.TimestampSeconds++ }), social.ErrInvalid, true},
		{"salt changed", nil, edit(func(c *social.GameCenterCredential) { c.Salt = "AAAAAAAAAAA=" }), social.ErrInvalid, true},
		{"signature of another player", nil, edit(func(c *social.GameCenterCredential) {
			c.Signature = p.GameCenter("T:_other", socialtest.BundleID, now).Signature
		}), social.ErrInvalid, true},
		{"salt not base64", nil, edit(func(c *social.GameCenterCredential) { c.Salt = "***" }), social.ErrInvalid, false},
		{"no timestamp", nil, edit(func(c *social.GameCenterCredential) { c.TimestampSeconds = 0 }), social.ErrInvalid, false},
		{"no player id", nil, edit(func(c *social.GameCenterCredential) { c.PlayerID = "" }), social.ErrInvalid, false},
		{"http URL", nil, edit(func(c *social.GameCenterCredential) {
			c.PublicKeyURL = strings.Replace(c.PublicKeyURL, "https://", "http://", 1)
		}), social.ErrInvalid, false},
		{"host not allowed", nil, edit(func(c *social.GameCenterCredential) {
			c.PublicKeyURL = "https://static.gc.evil.example/public-key/gc-prod-10.cer"
		}), social.ErrInvalid, false},
		{"stand-in host with only the default apple.com allowed", func(c *social.Config) { c.GameCenter.KeyHostSuffixes = nil },
			valid, social.ErrInvalid, false},
		{"user info in URL", nil, edit(func(c *social.GameCenterCredential) {
			c.PublicKeyURL = strings.Replace(c.PublicKeyURL, "https://", "https://user@", 1)
		}), social.ErrInvalid, false},
		{"no path", nil, edit(func(c *social.GameCenterCredential) { c.PublicKeyURL = p.URL + "/" }), social.ErrInvalid, false},
		{"certificate not found", nil, edit(func(c *social.GameCenterCredential) {
			c.PublicKeyURL = p.URL + "/gamecenter/public-key/absent.cer"
		}), social.ErrInvalid, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, p, tt.edit)
			before := p.Hits(socialtest.GameCenter)
			id, err := e.v.GameCenter(ctx, tt.cred)
			checkErr(t, err, tt.want, tt.cred.Signature)
			if tt.want == nil && id != (social.Identity{ID: tt.cred.PlayerID}) {
				t.Errorf("got %+v, want ID %s", id, tt.cred.PlayerID)
			}
			if fetched := p.Hits(socialtest.GameCenter) - before; !tt.fetches && fetched != 0 {
				t.Errorf("certificate fetched %d times, want none", fetched)
			}
		})
	}
}

// TestGameCenterCertificateCache checks that a certificate is fetched once per URL within its max-age, and
// that a rotated certificate at a new URL is fetched too.
func TestGameCenterCertificateCache(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, p, nil)
	ctx := context.Background()
	for i := range 5 {
		if _, err := e.v.GameCenter(ctx, p.GameCenter("T:_"+string(rune('a'+i)), socialtest.BundleID, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Hits(socialtest.GameCenter); got != 1 {
		t.Fatalf("certificate fetched %d times, want 1", got)
	}
	p.RotateKeys(socialtest.GameCenter)
	if _, err := e.v.GameCenter(ctx, p.GameCenter("T:_z", socialtest.BundleID, time.Now())); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(socialtest.KeysMaxAge + time.Second)
	if _, err := e.v.GameCenter(ctx, p.GameCenter("T:_z", socialtest.BundleID, time.Now())); err != nil {
		t.Fatal(err)
	}
	if got := p.Hits(socialtest.GameCenter); got != 3 {
		t.Fatalf("certificate fetched %d times, want 3 (first, rotated, expired)", got)
	}
}
