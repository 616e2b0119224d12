// Package tokens signs and verifies Latchkey's session and refresh tokens: compact HS256 JWTs with Nakama's
// claims (tid, uid, usn, vrs, exp, iat) and Latchkey's (rsq, sid), an algorithm allow-list of exactly HS256, and a keyring of signing
// keys told apart by the `kid` header. A keyring remembers the tokens it has verified, so that a session's
// every request after its first skips the signature check.
package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Verification errors. They say why a token was refused; callers must not show the difference to clients
// (Nakama answers every one of them with "Auth token invalid"), but server code and logs may use it.
var (
	ErrMalformed = errors.New("tokens: malformed token")
	ErrSignature = errors.New("tokens: bad signature")
	ErrExpired   = errors.New("tokens: token expired")
)

// Claims are a token's payload, under Nakama's claim names.
type Claims struct {
	TokenID   string            // tid: the session id, shared by every token of one login
	UserID    string            // uid: canonical lowercase UUID text
	Username  string            // usn
	Vars      map[string]string // vrs: session variables, nil when none; read-only (Verify shares the map)
	ExpiresAt int64             // exp, Unix seconds
	IssuedAt  int64             // iat, Unix seconds
	// RefreshSeq (rsq, a Latchkey claim, refresh tokens only) is the session's refresh count when the token
	// was issued. With refresh-token rotation, only the newest refresh token of a session is current; an
	// older one presented again is a replay. 0 and absent are the same (a first login, or a Nakama token).
	RefreshSeq int64
	// StoreID (sid, a Latchkey claim) is the id of the store the token's session was created in, so that a
	// server can refuse tokens minted against another store (a database that was since wiped or replaced).
	// Empty in Nakama's tokens and in those of Latchkey versions before it.
	StoreID string
	// Generation (gen, a Latchkey claim) is the account's session generation when the token's session was
	// created: an account cut (logout of every session, a ban) ends the sessions of earlier generations.
	// 0 and absent are the same (an account never cut, a Nakama token).
	Generation int64
}

// Key is one HMAC signing key. An empty ID means the key signs tokens without a `kid` header, as Nakama does.
type Key struct {
	ID     string
	Secret []byte
}

// Keyring signs with its active key and verifies with any of its keys. It is safe for concurrent use.
//
// A keyring's keys never change, and each keyring has its own cache of the tokens it verified (see
// Verify): rotating keys means building a new keyring, which starts with an empty cache, so a token whose
// key was removed is refused at once.
type Keyring struct {
	cache  *verifiedCache
	active *keyState
	// byHeader maps the exact base64url header segment this package writes for each key to that key, so
	// the common case needs no header decoding at all.
	byHeader map[string]*keyState
	byID     map[string]*keyState
	noKID    *keyState // the key for tokens without a kid header, if any
}

type keyState struct {
	id        string
	secret    []byte
	headerSeg string // base64url of the header this key signs with
	pool      sync.Pool
}

// macState is the per-verification scratch space, pooled per key so verification allocates only what it
// returns.
type macState struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
	enc [44]byte // base64url of sum (43 bytes used)
}

// NewKeyring returns a keyring that signs with active and also verifies tokens signed by any of others.
// At most one key, active or not, may have an empty ID.
func NewKeyring(active Key, others ...Key) (*Keyring, error) {
	kr := &Keyring{cache: newVerifiedCache(cacheSlots, cacheBudget), byHeader: map[string]*keyState{}, byID: map[string]*keyState{}}
	for i, k := range append([]Key{active}, others...) {
		if len(k.Secret) == 0 {
			return nil, fmt.Errorf("tokens: key %q has an empty secret", k.ID)
		}
		ks := newKeyState(k)
		if k.ID == "" {
			if kr.noKID != nil {
				return nil, errors.New("tokens: more than one key without an id")
			}
			kr.noKID = ks
		} else {
			if _, dup := kr.byID[k.ID]; dup {
				return nil, fmt.Errorf("tokens: duplicate key id %q", k.ID)
			}
			kr.byID[k.ID] = ks
		}
		kr.byHeader[ks.headerSeg] = ks
		if i == 0 {
			kr.active = ks
		}
	}
	return kr, nil
}

func newKeyState(k Key) *keyState {
	ks := &keyState{id: k.ID, secret: append([]byte(nil), k.Secret...)}
	header := `{"alg":"HS256","typ":"JWT"}`
	if k.ID != "" {
		kid, _ := json.Marshal(k.ID)
		header = `{"alg":"HS256","kid":` + string(kid) + `,"typ":"JWT"}`
	}
	ks.headerSeg = base64.RawURLEncoding.EncodeToString([]byte(header))
	ks.pool.New = func() any { return &macState{mac: hmac.New(sha256.New, ks.secret)} }
	return ks
}

// ActiveKeyID returns the id of the signing key ("" for a key without id).
func (kr *Keyring) ActiveKeyID() string { return kr.active.id }

// Sign returns the compact JWS of c, signed with the active key.
func (kr *Keyring) Sign(c *Claims) string {
	ks := kr.active
	payload := appendClaims(make([]byte, 0, 160+32*len(c.Vars)), c)
	n := len(ks.headerSeg) + 1 + base64.RawURLEncoding.EncodedLen(len(payload))
	out := make([]byte, n, n+1+43)
	copy(out, ks.headerSeg)
	out[len(ks.headerSeg)] = '.'
	base64.RawURLEncoding.Encode(out[len(ks.headerSeg)+1:], payload)

	st := ks.pool.Get().(*macState)
	st.mac.Reset()
	st.mac.Write(out)
	sum := st.mac.Sum(st.sum[:0])
	out = append(out, '.')
	out = base64.RawURLEncoding.AppendEncode(out, sum)
	ks.pool.Put(st)
	return string(out)
}

// Verify checks the token's header, signature and expiry at Unix time now, and returns its claims. A token
// is expired when now >= exp, without leeway, as in Nakama.
//
// The keyring remembers the claims of tokens that verified, keyed by the exact token text: up to 65,536
// tokens of up to 4 KiB each, holding at most 64 MiB (a typical session token takes 0.7 KiB). Verifying a
// remembered token again takes a hash and a comparison and does not allocate; its expiry is checked on
// every call, so it is refused from its exp on like any other. Claims.Vars of a remembered token is one
// map shared by every caller that verifies it: callers must not modify it (copy it first).
//
// Verify knows nothing of revocation: callers that keep a denylist check it after Verify, on every call.
func (kr *Keyring) Verify(token string, now int64) (Claims, error) {
	h, hit := kr.cache.lookup(token)
	if hit != nil {
		if now >= hit.claims.ExpiresAt {
			return hit.claims, ErrExpired
		}
		return hit.claims, nil
	}
	c, err := kr.verify(token, now)
	if err == nil {
		kr.cache.insert(h, token, c, now)
	}
	return c, err
}

// verify is Verify without the cache.
func (kr *Keyring) verify(token string, now int64) (Claims, error) {
	dot1 := strings.IndexByte(token, '.')
	if dot1 <= 0 {
		return Claims{}, ErrMalformed
	}
	rest := token[dot1+1:]
	dot2 := strings.IndexByte(rest, '.')
	if dot2 <= 0 || strings.IndexByte(rest[dot2+1:], '.') >= 0 {
		return Claims{}, ErrMalformed
	}
	dot2 += dot1 + 1
	ks, err := kr.keyFor(token[:dot1])
	if err != nil {
		return Claims{}, err
	}
	sigSeg := token[dot2+1:]
	if len(sigSeg) != base64.RawURLEncoding.EncodedLen(sha256.Size) {
		return Claims{}, ErrSignature
	}

	st := ks.pool.Get().(*macState)
	defer ks.pool.Put(st)
	st.buf = append(st.buf[:0], token...)
	st.mac.Reset()
	st.mac.Write(st.buf[:dot2])
	sum := st.mac.Sum(st.sum[:0])
	// Comparing encoded text rather than decoding the token's signature is cheaper, and it accepts only
	// the canonical encoding of the MAC, so a token has exactly one valid signature string.
	enc := st.enc[:base64.RawURLEncoding.EncodedLen(sha256.Size)]
	base64.RawURLEncoding.Encode(enc, sum)
	if subtle.ConstantTimeCompare(enc, st.buf[dot2+1:]) != 1 {
		return Claims{}, ErrSignature
	}

	// The signature is good; decode the payload after the token in the same scratch buffer.
	payloadSeg := st.buf[dot1+1 : dot2]
	need := len(st.buf) + base64.RawURLEncoding.DecodedLen(len(payloadSeg))
	if cap(st.buf) < need {
		grown := make([]byte, len(st.buf), need)
		copy(grown, st.buf)
		st.buf = grown
		payloadSeg = st.buf[dot1+1 : dot2]
	}
	out := st.buf[len(st.buf):need]
	n, err := base64.RawURLEncoding.Decode(out, payloadSeg)
	if err != nil {
		return Claims{}, ErrMalformed
	}
	c, err := parseClaims(out[:n])
	if err != nil {
		return Claims{}, err
	}
	if now >= c.ExpiresAt {
		return c, ErrExpired
	}
	return c, nil
}

// keyFor resolves the key for a header segment: first by the exact segment this package writes, then by
// decoding a foreign header (other libraries order or space it differently).
func (kr *Keyring) keyFor(headerSeg string) (*keyState, error) {
	if ks, ok := kr.byHeader[headerSeg]; ok {
		return ks, nil
	}
	if len(headerSeg) > 512 {
		return nil, ErrMalformed
	}
	raw, err := base64.RawURLEncoding.DecodeString(headerSeg)
	if err != nil {
		return nil, ErrMalformed
	}
	var h struct {
		Alg  *string `json:"alg"`
		Kid  *string `json:"kid"`
		Typ  *string `json:"typ"`
		Crit any     `json:"crit"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		return nil, ErrMalformed
	}
	// The algorithm is pinned: "none", RS256 and the rest are refused before any key is looked at.
	if h.Alg == nil || *h.Alg != "HS256" || h.Crit != nil {
		return nil, ErrMalformed
	}
	if h.Typ != nil && !strings.EqualFold(*h.Typ, "JWT") {
		return nil, ErrMalformed
	}
	if h.Kid == nil {
		if kr.noKID == nil {
			return nil, ErrSignature
		}
		return kr.noKID, nil
	}
	ks, ok := kr.byID[*h.Kid]
	if !ok {
		return nil, ErrSignature
	}
	return ks, nil
}

// appendClaims writes the payload JSON in Nakama's claim order: tid, uid, usn, vrs, exp, iat (then
// Latchkey's rsq and sid); empty strings and empty vars are omitted as Nakama's omitempty tags do.
func appendClaims(b []byte, c *Claims) []byte {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	if c.TokenID != "" {
		field("tid")
		b = appendString(b, c.TokenID)
	}
	if c.UserID != "" {
		field("uid")
		b = appendString(b, c.UserID)
	}
	if c.Username != "" {
		field("usn")
		b = appendString(b, c.Username)
	}
	if len(c.Vars) > 0 {
		field("vrs")
		keys := make([]string, 0, len(c.Vars))
		for k := range c.Vars {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, k)
			b = append(b, ':')
			b = appendString(b, c.Vars[k])
		}
		b = append(b, '}')
	}
	if c.ExpiresAt != 0 {
		field("exp")
		b = strconv.AppendInt(b, c.ExpiresAt, 10)
	}
	if c.IssuedAt != 0 {
		field("iat")
		b = strconv.AppendInt(b, c.IssuedAt, 10)
	}
	if c.RefreshSeq != 0 {
		field("rsq")
		b = strconv.AppendInt(b, c.RefreshSeq, 10)
	}
	if c.StoreID != "" {
		field("sid")
		b = appendString(b, c.StoreID)
	}
	if c.Generation != 0 {
		field("gen")
		b = strconv.AppendInt(b, c.Generation, 10)
	}
	return append(b, '}')
}

// appendString writes s as a JSON string, escaping only what JSON requires and replacing invalid UTF-8
// with U+FFFD, as encoding/json does.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}
