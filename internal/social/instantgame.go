package social

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
)

// FacebookInstantGame verifies a signed_player_info from FBInstant.player.getSignedPlayerInfoAsync:
// base64url(signature) "." base64url(JSON payload), the signature being HMAC-SHA256 of the payload part, as
// sent, keyed with the app secret. The check needs no network, so ctx is unused.
func (v *Verifier) FacebookInstantGame(ctx context.Context, signedPlayerInfo string) (Identity, error) {
	const provider = "facebook instant games"
	secret := v.cfg.FacebookInstantGame.AppSecret
	if secret == "" {
		return Identity{}, notConfigured("Facebook Instant Games sign-in", "social.facebook_instant_game.app_secret")
	}
	if len(signedPlayerInfo) > maxTokenLen {
		return Identity{}, invalid(provider, "signed player info too long")
	}
	sigPart, payloadPart, ok := strings.Cut(signedPlayerInfo, ".")
	if !ok || strings.Contains(payloadPart, ".") {
		return Identity{}, invalid(provider, "signed player info is not signature.payload")
	}
	sig, err1 := decodeBase64URL(sigPart)
	payload, err2 := decodeBase64URL(payloadPart)
	if err1 != nil || err2 != nil {
		return Identity{}, invalid(provider, "signed player info is not base64url")
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(payloadPart))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return Identity{}, invalid(provider, "signature does not verify")
	}
	var info struct {
		Algorithm string `json:"algorithm"`
		PlayerID  string `json:"player_id"`
	}
	if err := json.Unmarshal(payload, &info); err != nil {
		return Identity{}, invalid(provider, "payload is malformed")
	}
	if info.Algorithm != "HMAC-SHA256" {
		return Identity{}, invalid(provider, "payload algorithm is not HMAC-SHA256")
	}
	if info.PlayerID == "" {
		return Identity{}, invalid(provider, "payload has no player_id")
	}
	return Identity{ID: info.PlayerID}, nil
}

// decodeBase64URL decodes base64url with or without padding, as Facebook's SDKs differ.
func decodeBase64URL(s string) ([]byte, error) {
	return base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
}
