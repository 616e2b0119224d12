// Package tickets mints and redeems join tickets: short-lived, one-time JWTs, signed with asymmetric keys
// the nodes share through the store, that a player hands to a game server in place of its session token.
//
// A ticket is a compact JWS with the header {"alg":"EdDSA"|"ES256","kid":KID,"typ":"JWT"} and the claims
// iss, sub (user id), aud (one string), iat, exp, jti (a UUIDv7), sid (the session id, the session token's
// tid), gen (the session's account generation, omitted when 0), usn (username), vrs (the configured
// session variables, omitted when empty) and typ ("latchkey-ticket"). Game servers check it offline with
// the keys JWKS publishes, or redeem it at a node.
package tickets

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Refusals. Verify and Redeem return one of them (wrapped) for every ticket they refuse; callers answer
// every one the same way to clients ("inactive"), but logs and server code may tell them apart.
var (
	ErrMalformed = errors.New("tickets: malformed ticket")
	ErrSignature = errors.New("tickets: bad signature or unknown key")
	ErrClaims    = errors.New("tickets: claims not those of a ticket of this issuer")
	ErrExpired   = errors.New("tickets: ticket expired")
	ErrAudience  = errors.New("tickets: wrong audience")
	ErrRedeemed  = errors.New("tickets: ticket already redeemed")
	ErrRevoked   = errors.New("tickets: session ended")
)

// Mint's refusals of its arguments.
var (
	// ErrInvalidAudience refuses an audience that is empty, longer than MaxAudience bytes, not UTF-8 or
	// holds a control character.
	ErrInvalidAudience = errors.New("tickets: audience must be 1-128 bytes of UTF-8 without control characters")
	// ErrInvalidTTL refuses a lifetime below one second or above Config.MaxTTL.
	ErrInvalidTTL = errors.New("tickets: lifetime out of range")
)

// Algorithms.
const (
	EdDSA = "EdDSA" // Ed25519
	ES256 = "ES256" // ECDSA on P-256 with SHA-256
)

// Limits of the format.
const (
	// MaxTicket is the longest ticket Verify reads; a ticket this package mints is far shorter unless its
	// vars are large.
	MaxTicket = 4096
	// MaxAudience is the longest audience, in bytes.
	MaxAudience = 128
	// IssuedAtSkew is how far in the future a ticket's iat may be, for nodes whose clocks differ.
	IssuedAtSkew = 5 * time.Second
	// TicketType is every ticket's typ claim, which keeps other JWTs signed by the same keys (none today)
	// from passing as tickets.
	TicketType = "latchkey-ticket"
)

// Timing of the key refresh.
const (
	// RefreshInterval is how often Run reads the keys from the store (picking up keys other nodes made),
	// rotates and sweeps.
	RefreshInterval = 30 * time.Second
	// unknownKeyInterval bounds how often a ticket with an unknown kid makes Verify read the keys.
	unknownKeyInterval = 5 * time.Second
	// retireGrace keeps a key published this much longer than the tickets it signed after the next key
	// was made: a node signs with the older key until its next refresh sees the newer one, and node
	// clocks differ.
	retireGrace = 2 * RefreshInterval
	// redeemedGrace keeps a redemption record this long past its ticket's expiry, for nodes whose clocks
	// are behind.
	redeemedGrace = time.Minute
)

// Config is the service's settings (config section tickets).
type Config struct {
	Algorithm string        // of newly made keys: EdDSA (default) or ES256
	TTL       time.Duration // Mint's lifetime when the caller asks for none
	MaxTTL    time.Duration // the longest lifetime Mint grants, and how long a key outlives its successor
	Vars      []string      // the session variables copied into tickets
	Issuer    string        // the iss claim
	Rotation  time.Duration // how old the newest key gets before a node makes a new one
}

// Deps are the service's collaborators.
type Deps struct {
	Store  storage.Tickets
	Clock  func() time.Time // time.Now when nil
	Logger *slog.Logger     // discards when nil
	Rand   io.Reader        // crypto/rand when nil: key ids and ticket ids
	// Revoked reports whether the session sessionID of user userID, created in account generation gen,
	// has ended (the sessions denylist); Redeem refuses the tickets of such sessions. nil checks nothing.
	Revoked func(userID, sessionID string, gen int64) bool
}

// Claims are what a ticket says.
type Claims struct {
	Issuer     string            // iss
	UserID     string            // sub
	Audience   string            // aud
	IssuedAt   int64             // iat, Unix seconds
	ExpiresAt  int64             // exp, Unix seconds
	ID         string            // jti
	SessionID  string            // sid: the session token's tid
	Generation int64             // gen: the session's account generation
	Username   string            // usn
	Vars       map[string]string // vrs, nil when none
}

// Ticket is a minted ticket.
type Ticket struct {
	Token     string
	ID        string // jti
	ExpiresAt int64  // Unix seconds
}

// Service mints, verifies and redeems tickets, and keeps the shared keys. It is safe for concurrent use.
type Service struct {
	cfg     Config
	store   storage.Tickets
	clock   func() time.Time
	log     *slog.Logger
	rand    io.Reader
	revoked func(userID, sessionID string, gen int64) bool
	vars    map[string]bool

	keys atomic.Pointer[keySet] // nil until the first successful refresh

	refreshMu sync.Mutex // serializes refreshes, so that one node makes one key per rotation
	// lastUnknown is when Verify last read the keys for an unknown kid, in Unix nanoseconds of the clock.
	lastUnknown atomic.Int64
	warned      sync.Map // kid -> struct{}: keys already reported unusable
}

// New returns a service; call Load before minting.
func New(cfg Config, d Deps) *Service {
	s := &Service{cfg: cfg, store: d.Store, clock: d.Clock, log: d.Logger, rand: d.Rand, revoked: d.Revoked,
		vars: map[string]bool{}}
	if s.cfg.Algorithm == "" {
		s.cfg.Algorithm = EdDSA
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	for _, v := range cfg.Vars {
		s.vars[v] = true
	}
	return s
}

// Load reads the keys from the store, making the first one (or a new one, when rotation is due), so that
// the service can mint. Call it once before serving.
func (s *Service) Load(ctx context.Context) error {
	return s.refresh(ctx)
}

// Run refreshes the keys every RefreshInterval until ctx ends: it picks up keys other nodes made, makes a
// new one when rotation is due, deletes the keys no live ticket can have been signed with and the
// redemption records of expired tickets. Every node runs it; what it deletes, it deletes idempotently.
func (s *Service) Run(ctx context.Context) {
	t := time.NewTicker(RefreshInterval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := s.refresh(ctx)
		if err == nil {
			err = s.sweep(ctx)
		}
		switch {
		case err != nil && ctx.Err() != nil:
			return
		case err != nil && !failing:
			s.log.Warn("ticket keys: refresh failed; minting and verifying with the keys already read", "err", err)
			failing = true
		case err == nil && failing:
			s.log.Info("ticket keys: refresh works again")
			failing = false
		}
	}
}

// sweep deletes the redemption records of tickets expired long enough.
func (s *Service) sweep(ctx context.Context) error {
	n, err := s.store.DeleteRedeemedTicketsBefore(ctx, s.clock().Add(-redeemedGrace).UTC())
	if n > 0 {
		s.log.Debug("deleted redeemed tickets", "count", n)
	}
	return err
}

// JWKS returns the published keys as a JSON Web Key Set (RFC 7517): every key that may have signed a
// ticket still live. The body is rendered when the keys change; callers must not modify it.
func (s *Service) JWKS() []byte {
	if ks := s.keys.Load(); ks != nil {
		return ks.jwks
	}
	return []byte(`{"keys":[]}`)
}

// ValidAudience reports whether aud may be a ticket's audience (see ErrInvalidAudience).
func ValidAudience(aud string) bool {
	if aud == "" || len(aud) > MaxAudience || !utf8.ValidString(aud) {
		return false
	}
	return !strings.ContainsFunc(aud, unicode.IsControl)
}

// Mint signs a ticket for the session of the session token whose claims are c (its tid, uid, usn, gen and
// vrs), for audience, valid for ttl (Config.TTL when 0; whole seconds count).
func (s *Service) Mint(ctx context.Context, c tokens.Claims, audience string, ttl time.Duration) (Ticket, error) {
	if !ValidAudience(audience) {
		return Ticket{}, ErrInvalidAudience
	}
	if ttl == 0 {
		ttl = s.cfg.TTL
	}
	if ttl < time.Second || ttl > s.cfg.MaxTTL {
		return Ticket{}, ErrInvalidTTL
	}
	ks := s.keys.Load()
	if ks == nil {
		if err := s.refresh(ctx); err != nil {
			return Ticket{}, err
		}
		ks = s.keys.Load()
	}
	now := s.clock()
	id, err := s.newID(now)
	if err != nil {
		return Ticket{}, err
	}
	exp := now.Unix() + int64(ttl/time.Second)
	// A ticket never outlives the session credential it was minted from (c.ExpiresAt: the session token's
	// expiry, or the stored session's). A session's feed entry is kept until that expiry and no longer, so
	// a verifier that starts later still learns of the logout of every session whose tickets are live.
	if c.ExpiresAt > 0 && exp > c.ExpiresAt {
		exp = c.ExpiresAt
	}
	if exp <= now.Unix() {
		return Ticket{}, ErrInvalidTTL
	}
	w := wireClaims{Iss: s.cfg.Issuer, Sub: c.UserID, Aud: audience, Iat: now.Unix(), Exp: exp,
		Jti: id, Sid: c.TokenID, Gen: c.Generation, Usn: c.Username, Typ: TicketType}
	for k, v := range c.Vars {
		if s.vars[k] {
			if w.Vrs == nil {
				w.Vrs = map[string]string{}
			}
			w.Vrs[k] = v
		}
	}
	payload, err := json.Marshal(w)
	if err != nil {
		return Ticket{}, err
	}
	k := ks.signer
	buf := make([]byte, 0, len(k.header)+1+base64.RawURLEncoding.EncodedLen(len(payload))+1+base64.RawURLEncoding.EncodedLen(sigSize))
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, payload)
	sig, err := k.sign(s.rand, buf)
	if err != nil {
		return Ticket{}, fmt.Errorf("tickets: signing with key %s: %w", k.id, err)
	}
	buf = append(buf, '.')
	buf = base64.RawURLEncoding.AppendEncode(buf, sig)
	return Ticket{Token: string(buf), ID: id, ExpiresAt: w.Exp}, nil
}

// newID returns a UUIDv7 for now.
func (s *Service) newID(now time.Time) (string, error) {
	var u uuid.UUID
	if _, err := io.ReadFull(s.rand, u[6:]); err != nil {
		return "", fmt.Errorf("tickets: ticket id: %w", err)
	}
	ms := uint64(now.UnixMilli())
	for i := range 6 {
		u[i] = byte(ms >> (40 - 8*i))
	}
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u.String(), nil
}

// wireClaims is a ticket's payload as JSON.
type wireClaims struct {
	Iss string            `json:"iss"`
	Sub string            `json:"sub"`
	Aud string            `json:"aud"`
	Iat int64             `json:"iat"`
	Exp int64             `json:"exp"`
	Jti string            `json:"jti"`
	Sid string            `json:"sid"`
	Gen int64             `json:"gen,omitempty"`
	Usn string            `json:"usn"`
	Vrs map[string]string `json:"vrs,omitempty"`
	Typ string            `json:"typ"`
}

// wireHeader is a ticket's header as JSON.
type wireHeader struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	Typ string `json:"typ"`
}

// Verify checks a ticket for audience without redeeming it: its form, its key and signature, its typ and
// iss, that its aud is audience, that it has not expired (no leeway) and was not issued in the future
// (beyond IssuedAtSkew). A ticket signed with a key this node has not read yet makes it read the keys, at
// most every few seconds.
func (s *Service) Verify(token, audience string) (Claims, error) {
	if len(token) > MaxTicket {
		return Claims{}, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTicket)
	}
	headerSeg, rest, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, fmt.Errorf("%w: not three parts", ErrMalformed)
	}
	payloadSeg, sigSeg, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sigSeg, ".") {
		return Claims{}, fmt.Errorf("%w: not three parts", ErrMalformed)
	}
	k, err := s.key(headerSeg)
	if err != nil {
		return Claims{}, err
	}
	var sig [sigSize]byte
	if len(sigSeg) != sigB64Size {
		return Claims{}, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrMalformed, sigSize)
	}
	if n, err := b64.Decode(sig[:], []byte(sigSeg)); err != nil || n != sigSize {
		return Claims{}, fmt.Errorf("%w: signature is not %d bytes of base64url", ErrMalformed, sigSize)
	}
	if !k.verify(token[:len(headerSeg)+1+len(payloadSeg)], sig[:]) {
		return Claims{}, ErrSignature
	}
	payload, err := b64.DecodeString(payloadSeg)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	var w wireClaims
	if err := json.Unmarshal(payload, &w); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %v", ErrMalformed, err)
	}
	c := Claims{Issuer: w.Iss, UserID: w.Sub, Audience: w.Aud, IssuedAt: w.Iat, ExpiresAt: w.Exp, ID: w.Jti,
		SessionID: w.Sid, Generation: w.Gen, Username: w.Usn, Vars: w.Vrs}
	now := s.clock()
	switch {
	case w.Typ != TicketType:
		return Claims{}, fmt.Errorf("%w: typ %q", ErrClaims, w.Typ)
	case w.Iss != s.cfg.Issuer:
		return Claims{}, fmt.Errorf("%w: iss %q", ErrClaims, w.Iss)
	case w.Sub == "" || w.Jti == "":
		return Claims{}, fmt.Errorf("%w: no sub or jti", ErrClaims)
	case w.Iat > now.Add(IssuedAtSkew).Unix():
		return Claims{}, fmt.Errorf("%w: issued in the future", ErrClaims)
	case w.Exp <= now.Unix():
		return Claims{}, ErrExpired
	case audience == "" || w.Aud != audience:
		return Claims{}, ErrAudience
	}
	return c, nil
}

// Redeem verifies a ticket for audience (see Verify), checks that its session has not ended
// (Deps.Revoked), and records it as redeemed: across every node sharing the store, a ticket is redeemed
// once, and every later attempt is ErrRedeemed.
func (s *Service) Redeem(ctx context.Context, token, audience string) (Claims, error) {
	c, err := s.Verify(token, audience)
	if err != nil {
		return Claims{}, err
	}
	if s.revoked != nil && s.revoked(c.UserID, c.SessionID, c.Generation) {
		return Claims{}, ErrRevoked
	}
	err = s.store.RedeemTicket(ctx, c.ID, time.Unix(c.ExpiresAt, 0).UTC())
	switch {
	case errors.Is(err, storage.ErrConflict):
		return Claims{}, ErrRedeemed
	case err != nil:
		return Claims{}, fmt.Errorf("tickets: redeeming: %w", err)
	}
	return c, nil
}

// b64 decodes base64url without padding, refusing encodings whose unused trailing bits are set, so that
// each ticket has exactly one spelling.
var b64 = base64.RawURLEncoding.Strict()

// key finds the key a ticket's header segment names: at once when the segment is exactly the one this
// package writes for a key (every ticket it minted), otherwise by decoding it, strictly.
func (s *Service) key(headerSeg string) (*key, error) {
	if ks := s.keys.Load(); ks != nil {
		if k := ks.byHeader[headerSeg]; k != nil {
			return k, nil
		}
	}
	if len(headerSeg) > 256 {
		return nil, fmt.Errorf("%w: header too long", ErrMalformed)
	}
	raw, err := b64.DecodeString(headerSeg)
	if err != nil {
		return nil, fmt.Errorf("%w: header is not base64url", ErrMalformed)
	}
	var h wireHeader
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil || dec.More() {
		return nil, fmt.Errorf("%w: header is not a JWS header of a ticket", ErrMalformed)
	}
	if (h.Alg != EdDSA && h.Alg != ES256) || h.Typ != "JWT" || h.Kid == "" {
		return nil, fmt.Errorf("%w: header alg %q typ %q", ErrSignature, h.Alg, h.Typ)
	}
	k := s.keys.Load().lookup(h.Kid)
	if k == nil && s.refreshForUnknown() {
		k = s.keys.Load().lookup(h.Kid)
	}
	if k == nil {
		return nil, fmt.Errorf("%w: unknown kid", ErrSignature)
	}
	if k.alg != h.Alg {
		return nil, fmt.Errorf("%w: alg %s with a key of %s", ErrSignature, h.Alg, k.alg)
	}
	return k, nil
}

// refreshForUnknown reads the keys for a ticket with an unknown kid, unless it did so less than
// unknownKeyInterval ago, and reports whether it did.
func (s *Service) refreshForUnknown() bool {
	now := s.clock().UnixNano()
	last := s.lastUnknown.Load()
	if now-last < int64(unknownKeyInterval) || !s.lastUnknown.CompareAndSwap(last, now) {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.refresh(ctx); err != nil {
		s.log.Warn("ticket keys: refresh for an unknown kid failed", "err", err)
		return false
	}
	return true
}
