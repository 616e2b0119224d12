package social

import "context"

// googleIssuers are the two spellings of iss Google uses in ID tokens (Nakama accepts the same two).
var googleIssuers = []string{"accounts.google.com", "https://accounts.google.com"}

// Google verifies a Google ID token. Its audience must be one of social.google.client_ids; Nakama leaves
// the audience unchecked.
func (v *Verifier) Google(ctx context.Context, idToken string) (Identity, error) {
	if len(v.cfg.Google.ClientIDs) == 0 {
		return Identity{}, notConfigured("Google sign-in", "social.google.client_ids")
	}
	claims, err := v.verifyIDToken(ctx, idToken, idRules{
		provider:  "google",
		keysURL:   v.cfg.Google.KeysURL,
		issuers:   googleIssuers,
		audiences: v.cfg.Google.ClientIDs,
	})
	if err != nil {
		return Identity{}, err
	}
	return claims.identity(), nil
}
