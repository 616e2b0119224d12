package social

import "context"

// appleIssuer is the iss of every Sign in with Apple ID token (Nakama checks the same).
const appleIssuer = "https://appleid.apple.com"

// Apple verifies a Sign in with Apple ID token. Its audience must be social.apple.bundle_id; Nakama leaves
// the audience unchecked, so a token minted for another app would pass there.
func (v *Verifier) Apple(ctx context.Context, idToken string) (Identity, error) {
	if v.cfg.Apple.BundleID == "" {
		return Identity{}, notConfigured("Apple sign-in", "social.apple.bundle_id")
	}
	claims, err := v.verifyIDToken(ctx, idToken, idRules{
		provider:  "apple",
		keysURL:   v.cfg.Apple.KeysURL,
		issuers:   []string{appleIssuer},
		audiences: []string{v.cfg.Apple.BundleID},
	})
	if err != nil {
		return Identity{}, err
	}
	// Apple's ID token carries no name or picture; the client gets the name once, outside the token.
	return claims.identity(), nil
}
