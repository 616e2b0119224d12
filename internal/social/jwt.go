package social

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// clockSkew is how far a token's times may be off the server clock.
const clockSkew = time.Minute

// maxTokenLen bounds an ID token before any decoding; real ones are 1-2 KiB.
const maxTokenLen = 16 << 10

// keySet is a provider's JSON Web Key Set: RS256 public keys by kid.
type keySet map[string]*rsa.PublicKey

// idRules say which ID tokens one provider accepts.
type idRules struct {
	provider  string
	keysURL   string
	issuers   []string
	audiences []string
}

// idClaims are the claims read from an ID token. Providers add more; these are the ones used.
type idClaims struct {
	Iss           string      `json:"iss"`
	Sub           string      `json:"sub"`
	Aud           audience    `json:"aud"`
	Exp           numericDate `json:"exp"`
	Iat           numericDate `json:"iat"`
	Nbf           numericDate `json:"nbf"`
	Email         string      `json:"email"`
	EmailVerified looseBool   `json:"email_verified"`
	Name          string      `json:"name"`
	Picture       string      `json:"picture"`
}

// identity is what the claims prove. An email the provider marks unverified is left out.
func (c idClaims) identity() Identity {
	id := Identity{ID: c.Sub, Email: c.Email, Name: c.Name, AvatarURL: c.Picture}
	if c.EmailVerified.set && !c.EmailVerified.value {
		id.Email = ""
	}
	return id
}

// verifyIDToken checks an RS256 ID token: its form, its claims against r, then its signature against the
// provider's key set. Claims are checked first so a token refused anyway costs no key fetch.
func (v *Verifier) verifyIDToken(ctx context.Context, token string, r idRules) (idClaims, error) {
	var claims idClaims
	tok, err := parseJWT(token)
	if err != nil {
		return claims, invalid(r.provider, "%v", err)
	}
	if err := json.Unmarshal(tok.payload, &claims); err != nil {
		return claims, invalid(r.provider, "token claims are malformed")
	}
	if err := checkClaims(claims, r, v.clock()); err != nil {
		return claims, invalid(r.provider, "%v", err)
	}
	keys, err := v.keys.get(ctx, r.provider, r.keysURL, func(ks keySet) bool { return ks[tok.kid] != nil })
	if err != nil {
		return claims, err
	}
	key := keys[tok.kid]
	if key == nil {
		return claims, invalid(r.provider, "token signed with an unknown key")
	}
	digest := sha256.Sum256([]byte(tok.signed))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, digest[:], tok.signature) != nil {
		return claims, invalid(r.provider, "token signature does not verify")
	}
	return claims, nil
}

// jwt is a compact JWS split into its parts; nothing in it is verified yet.
type jwt struct {
	kid       string
	signed    string // header.payload, the signing input
	payload   []byte
	signature []byte
}

// parseJWT splits and decodes a compact RS256 JWS. Every other algorithm is refused, "none" and the HMAC
// ones in particular: a public key must never be used as an HMAC secret.
func parseJWT(token string) (jwt, error) {
	if len(token) > maxTokenLen {
		return jwt{}, errors.New("token too long")
	}
	head, rest, ok1 := strings.Cut(token, ".")
	body, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(sig, ".") {
		return jwt{}, errors.New("token is not a compact JWS")
	}
	headJSON, err1 := base64.RawURLEncoding.DecodeString(head)
	payload, err2 := base64.RawURLEncoding.DecodeString(body)
	signature, err3 := base64.RawURLEncoding.DecodeString(sig)
	if err1 != nil || err2 != nil || err3 != nil {
		return jwt{}, errors.New("token is not base64url")
	}
	var header struct {
		Alg  string          `json:"alg"`
		Kid  string          `json:"kid"`
		Crit json.RawMessage `json:"crit"`
	}
	if err := json.Unmarshal(headJSON, &header); err != nil {
		return jwt{}, errors.New("token header is malformed")
	}
	if header.Alg != "RS256" {
		return jwt{}, errors.New("token signing algorithm is not RS256")
	}
	if header.Crit != nil {
		return jwt{}, errors.New("token has critical header extensions")
	}
	if header.Kid == "" {
		return jwt{}, errors.New("token has no key id")
	}
	return jwt{kid: header.Kid, signed: token[:len(head)+1+len(body)], payload: payload, signature: signature}, nil
}

func checkClaims(c idClaims, r idRules, now time.Time) error {
	switch {
	case !slices.Contains(r.issuers, c.Iss):
		return errors.New("token issuer is wrong")
	case !slices.ContainsFunc(c.Aud, func(a string) bool { return slices.Contains(r.audiences, a) }):
		return errors.New("token audience is wrong")
	case c.Sub == "":
		return errors.New("token has no subject")
	case !c.Exp.set:
		return errors.New("token has no expiry")
	case !now.Before(c.Exp.time().Add(clockSkew)):
		return errors.New("token expired")
	case c.Iat.set && c.Iat.time().After(now.Add(clockSkew)):
		return errors.New("token issued in the future")
	case c.Nbf.set && c.Nbf.time().After(now.Add(clockSkew)):
		return errors.New("token not valid yet")
	}
	return nil
}

// audience is the aud claim, a string or an array of strings.
type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if json.Unmarshal(b, &one) == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return err
	}
	*a = many
	return nil
}

// numericDate is a JWT time claim: seconds since the epoch, possibly fractional.
type numericDate struct {
	set  bool
	secs int64
}

func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*d = numericDate{}
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1<<40 {
		return errors.New("bad numeric date")
	}
	*d = numericDate{set: true, secs: int64(f)}
	return nil
}

func (d numericDate) time() time.Time { return time.Unix(d.secs, 0) }

// looseBool is a boolean claim that some providers send as the string "true" or "false".
type looseBool struct {
	set   bool
	value bool
}

func (l *looseBool) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "null" {
		*l = looseBool{}
		return nil
	}
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*l = looseBool{set: true, value: v}
	return nil
}

// fetchKeySet fetches and parses a JSON Web Key Set. Keys that are not RSA signing keys of at least 2048
// bits are skipped; a set with none left cannot be used.
func (v *Verifier) fetchKeySet(ctx context.Context, provider, url string) (keySet, time.Duration, error) {
	resp, err := v.get(ctx, provider, url)
	if err != nil {
		return nil, 0, err
	}
	if resp.status != http.StatusOK {
		return nil, 0, v.outage(provider, "key set answered HTTP %d", resp.status)
	}
	var doc struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(resp.body, &doc); err != nil {
		return nil, 0, v.outage(provider, "answer is not a JSON Web Key Set")
	}
	keys := keySet{}
	for _, k := range doc.Keys {
		if k.Kty != "RSA" || k.Kid == "" || (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256") {
			continue
		}
		n, err1 := decodeBase64URL(k.N)
		e, err2 := decodeBase64URL(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 {
			continue
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
			continue
		}
		keys[k.Kid] = pub
	}
	if len(keys) == 0 {
		return nil, 0, v.outage(provider, "answer holds no usable RS256 key")
	}
	ttl := lifetime(resp.header)
	v.log.Debug("social key set fetched", "provider", provider, "keys", len(keys), "ttl", ttl)
	return keys, ttl, nil
}
