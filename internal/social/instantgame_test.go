package social_test

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/social"
	"github.com/latchkeyhq/latchkey/internal/social/socialtest"
)

func TestFacebookInstantGame(t *testing.T) {
	p := socialtest.Start(t)
	e := newEnv(t, p, nil)
	secret := p.InstantGameSecret
	payload := func(edit func(map[string]any)) map[string]any {
		m := map[string]any{"algorithm": "HMAC-SHA256", "issued_at": time.Now().Unix(), "player_id": "pl-42", "request_payload": ""}
		edit(m)
		return m
	}
	valid := p.InstantGame(secret, "pl-42")
	sig, body, _ := strings.Cut(valid, ".")
	notJSON := base64.RawURLEncoding.EncodeToString([]byte("not json"))
	notJSONSig := base64.RawURLEncoding.EncodeToString(socialtest.HS256([]byte(secret))([]byte(notJSON)))
	tests := []struct {
		name string
		info string
		want error
	}{
		{"valid", valid, nil},
		{"padded signature", sig + "=." + body, nil},
		{"wrong secret", p.InstantGame("not-the-secret", "pl-42"), social.ErrInvalid},
		{"payload changed after signing", sig + "." + b64(payload(func(m map[string]any) { m["player_id"] = "pl-43" })), social.ErrInvalid},
		{"algorithm none", socialtest.SignPlayerInfo(secret, payload(func(m map[string]any) { m["algorithm"] = "none" })), social.ErrInvalid},
		{"algorithm HS256", socialtest.SignPlayerInfo(secret, payload(func(m map[string]any) { m["algorithm"] = "HS256" })), social.ErrInvalid},
		{"no player id", socialtest.SignPlayerInfo(secret, payload(func(m map[string]any) { delete(m, "player_id") })), social.ErrInvalid},
		{"payload not JSON", notJSONSig + "." + notJSON, social.ErrInvalid},
		{"no dot", sig + body, social.ErrInvalid},
		{"three parts", valid + ".x", social.ErrInvalid},
		{"not base64url", "***." + body, social.ErrInvalid},
		{"empty", "", social.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := e.v.FacebookInstantGame(context.Background(), tt.info)
			checkErr(t, err, tt.want, tt.info, secret)
			if tt.want == nil && id != (social.Identity{ID: "pl-42"}) {
				t.Errorf("got %+v, want ID pl-42", id)
			}
		})
	}
}
