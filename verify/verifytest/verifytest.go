// Package verifytest serves a fake Latchkey node for tests of code that verifies join tickets: it publishes
// a JWKS of keys made at start, mints tickets as Latchkey does, and serves a revocation feed (with long
// polling) that the test writes to. It answers on a loopback port, like net/http/httptest, whose server it
// wraps.
package verifytest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"time"
)

// VerifierKey is the key the fake node accepts on its revocation feed.
const VerifierKey = "verifytest-verifier-key"

// Server is a fake Latchkey node. Its methods are safe for concurrent use.
type Server struct {
	// URL is the node's base URL, for verify.Config.BaseURL.
	URL string

	srv *httptest.Server

	mu          sync.Mutex
	keys        map[string]*signingKey
	newest      string // the kid Mint signs with by default
	entries     []Revocation
	seq         int64
	wake        chan struct{} // closed (and replaced) when an entry is added or the node goes down
	down        bool
	jwksFetches int
	waiting     int
	polls       []Poll
}

// Revocation is one entry of the fake feed, as GET /latchkey/v1/revocations answers it.
type Revocation struct {
	Seq        int64  `json:"seq"`
	SessionID  string `json:"session_id"`
	UserID     string `json:"user_id"`
	ExpiresAt  int64  `json:"expires_at"`
	RevokedAt  int64  `json:"revoked_at"`
	Generation int64  `json:"generation"`
	Keep       string `json:"keep"`
}

// Poll is one feed request the fake answered with 200.
type Poll struct {
	After  int64
	Waited bool    // the request waited for an entry (a long poll that was woken or timed out)
	Seqs   []int64 // the entries it answered
}

// signingKey is a key pair the fake signs with; published keys are in the JWKS.
type signingKey struct {
	alg       string
	ed        ed25519.PrivateKey
	ec        *ecdsa.PrivateKey
	published bool
}

// NewServer starts a fake node with one published EdDSA key. Close it when done.
func NewServer() *Server {
	s := &Server{keys: map[string]*signingKey{}, wake: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/jwks.json", s.jwks)
	mux.HandleFunc("GET /latchkey/v1/revocations", s.revocations)
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	s.AddKey("EdDSA")
	return s
}

// Close shuts the fake node down.
func (s *Server) Close() {
	s.SetDown(true)
	s.srv.Close()
}

// AddKey makes a key of alg (EdDSA or ES256), publishes it, and makes it the one Mint signs with by
// default. It returns its kid.
func (s *Server) AddKey(alg string) string {
	kid := s.AddUnpublishedKey(alg)
	s.Publish(kid)
	s.mu.Lock()
	s.newest = kid
	s.mu.Unlock()
	return kid
}

// AddUnpublishedKey makes a key of alg that signs tickets (Ticket.KeyID) but is not in the JWKS until
// Publish. It returns its kid.
func (s *Server) AddUnpublishedKey(alg string) string {
	k := &signingKey{alg: alg}
	switch alg {
	case "EdDSA":
		_, k.ed, _ = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		var err error
		if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			panic(err)
		}
	default:
		panic("verifytest: unknown algorithm " + alg)
	}
	kid := randomHex(8)
	s.mu.Lock()
	s.keys[kid] = k
	s.mu.Unlock()
	return kid
}

// Publish adds a key to the JWKS.
func (s *Server) Publish(kid string) { s.setPublished(kid, true) }

// RemoveKey takes a key out of the JWKS, as a node does once every ticket it signed has expired. The key
// still signs when a Ticket names it.
func (s *Server) RemoveKey(kid string) { s.setPublished(kid, false) }

func (s *Server) setPublished(kid string, published bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[kid]
	if !ok {
		panic("verifytest: unknown kid " + kid)
	}
	k.published = published
}

// JWKSFetches returns how many times the JWKS was fetched.
func (s *Server) JWKSFetches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.jwksFetches
}

// Ticket is what Mint puts in a ticket. Zero values get defaults, but for Audience and Generation.
type Ticket struct {
	KeyID      string // default: the newest key AddKey made
	Issuer     string // default "latchkey"
	UserID     string // default: a random UUID
	Audience   string
	ID         string // default: a UUID v7, as the node makes
	SessionID  string // default: a random UUID
	Generation int64
	Username   string // default "player"
	Vars       map[string]string
	IssuedAt   time.Time // default: now
	ExpiresAt  time.Time // default: IssuedAt + 30 s
}

// claims are a ticket's payload in the node's claim names and order.
type claims struct {
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

// Mint returns a ticket signed as the node signs one: a compact JWS with header {alg, kid, typ JWT}.
func (s *Server) Mint(t Ticket) string {
	now := time.Now()
	if t.IssuedAt.IsZero() {
		t.IssuedAt = now
	}
	if t.ExpiresAt.IsZero() {
		t.ExpiresAt = t.IssuedAt.Add(30 * time.Second)
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&t.Issuer, "latchkey")
	def(&t.UserID, uuid(false))
	def(&t.ID, uuid(true))
	def(&t.SessionID, uuid(false))
	def(&t.Username, "player")
	c := claims{
		Iss: t.Issuer, Sub: t.UserID, Aud: t.Audience, Iat: t.IssuedAt.Unix(), Exp: t.ExpiresAt.Unix(), Jti: t.ID,
		Sid: t.SessionID, Gen: t.Generation, Usn: t.Username, Vrs: t.Vars, Typ: "latchkey-ticket",
	}
	s.mu.Lock()
	kid := t.KeyID
	if kid == "" {
		kid = s.newest
	}
	alg := s.keys[kid].alg
	s.mu.Unlock()
	return s.Sign(kid, map[string]string{"alg": alg, "kid": kid, "typ": "JWT"}, c)
}

// Sign marshals header and payload to JSON and signs them with the key kid, in the key's own algorithm
// whatever the header says: for tests of tickets a node would never mint.
func (s *Server) Sign(kid string, header, payload any) string {
	s.mu.Lock()
	k, ok := s.keys[kid]
	s.mu.Unlock()
	if !ok {
		panic("verifytest: unknown kid " + kid)
	}
	h, err1 := json.Marshal(header)
	p, err2 := json.Marshal(payload)
	if err1 != nil || err2 != nil {
		panic(fmt.Sprintf("verifytest: %v %v", err1, err2))
	}
	signed := b64(h) + "." + b64(p)
	var sig []byte
	switch k.alg {
	case "EdDSA":
		sig = ed25519.Sign(k.ed, []byte(signed))
	case "ES256":
		hash := sha256.Sum256([]byte(signed))
		r, ss, err := ecdsa.Sign(rand.Reader, k.ec, hash[:])
		if err != nil {
			panic(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		ss.FillBytes(sig[32:])
	}
	return signed + "." + b64(sig)
}

// RevokeSession appends the end of one session to the feed (expiring in an hour) and returns its seq.
func (s *Server) RevokeSession(userID, sessionID string) int64 {
	return s.add(Revocation{SessionID: sessionID, UserID: userID})
}

// CutAccount appends an account cut to the feed (expiring in an hour): every session of userID of a
// generation below generation ends, but keep (when not empty). It returns its seq.
func (s *Server) CutAccount(userID string, generation int64, keep string) int64 {
	return s.add(Revocation{UserID: userID, Generation: generation, Keep: keep})
}

// Add appends an entry as given (its Seq is assigned; ExpiresAt and RevokedAt default to an hour from now
// and now) and returns its seq.
func (s *Server) Add(r Revocation) int64 { return s.add(r) }

func (s *Server) add(r Revocation) int64 {
	now := time.Now()
	if r.ExpiresAt == 0 {
		r.ExpiresAt = now.Add(time.Hour).Unix()
	}
	if r.RevokedAt == 0 {
		r.RevokedAt = now.Unix()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seq++
	r.Seq = s.seq
	s.entries = append(s.entries, r)
	s.wakeLocked()
	return r.Seq
}

func (s *Server) wakeLocked() {
	close(s.wake)
	s.wake = make(chan struct{})
}

// SetDown takes the node down (true: every request is answered 503, the waiting feed requests at once, and
// open connections are closed) or brings it back (false). Entries added while down are served after.
func (s *Server) SetDown(down bool) {
	s.mu.Lock()
	s.down = down
	s.wakeLocked()
	s.mu.Unlock()
	if down {
		s.srv.CloseClientConnections()
	}
}

// Waiting returns how many feed requests are waiting for an entry right now.
func (s *Server) Waiting() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.waiting
}

// Polls returns the feed requests answered with 200 so far, in order.
func (s *Server) Polls() []Poll {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.polls)
}

type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

func (s *Server) jwks(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	s.jwksFetches++
	keys := []jwk{}
	for _, kid := range slices.Sorted(maps.Keys(s.keys)) {
		k := s.keys[kid]
		if !k.published {
			continue
		}
		switch k.alg {
		case "EdDSA":
			keys = append(keys, jwk{Kty: "OKP", Crv: "Ed25519", X: b64(k.ed.Public().(ed25519.PublicKey)), Kid: kid, Alg: "EdDSA", Use: "sig"})
		case "ES256":
			pt, err := k.ec.PublicKey.Bytes()
			if err != nil {
				panic(err)
			}
			keys = append(keys, jwk{Kty: "EC", Crv: "P-256", X: b64(pt[1:33]), Y: b64(pt[33:]), Kid: kid, Alg: "ES256", Use: "sig"})
		}
	}
	s.mu.Unlock()
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// maxWait is the longest a feed request waits, as on a node.
const maxWait = 25 * time.Second

func (s *Server) revocations(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+VerifierKey {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "Verifier key invalid", "message": "Verifier key invalid", "code": 16})
		return
	}
	q := r.URL.Query()
	after, err1 := intParam(q.Get("after"), 0)
	waitMS, err2 := intParam(q.Get("wait_ms"), 0)
	limit, err3 := intParam(q.Get("limit"), 100)
	if err1 != nil || err2 != nil || err3 != nil || after < 0 || waitMS < 0 || limit < 1 {
		writeJSON(w, http.StatusBadRequest, map[string]any{"error": "bad parameter", "message": "bad parameter", "code": 3})
		return
	}
	var timeout <-chan time.Time
	if waitMS > 0 {
		t := time.NewTimer(min(time.Duration(waitMS)*time.Millisecond, maxWait))
		defer t.Stop()
		timeout = t.C
	}
	waited, timedOut := false, false
	for {
		s.mu.Lock()
		if s.down {
			s.mu.Unlock()
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		now := time.Now().Unix()
		page := []Revocation{}
		for _, e := range s.entries {
			if e.Seq > after && e.ExpiresAt > now && len(page) < int(min(limit, 1000)) {
				page = append(page, e)
			}
		}
		if len(page) > 0 || timeout == nil || timedOut {
			next := after
			seqs := []int64{}
			for _, e := range page {
				next = e.Seq
				seqs = append(seqs, e.Seq)
			}
			s.polls = append(s.polls, Poll{After: after, Waited: waited, Seqs: seqs})
			s.mu.Unlock()
			writeJSON(w, http.StatusOK, map[string]any{"revocations": page, "next": next})
			return
		}
		wake := s.wake
		s.waiting++
		s.mu.Unlock()
		waited = true
		select {
		case <-wake:
		case <-timeout:
			timedOut = true
		case <-r.Context().Done():
		}
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
		if r.Context().Err() != nil {
			return
		}
	}
}

func intParam(s string, def int64) (int64, error) {
	if s == "" {
		return def, nil
	}
	return strconv.ParseInt(s, 10, 64)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// uuid returns a random UUID: version 7 (time-ordered, as the node makes ticket ids) or version 4.
func uuid(v7 bool) string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	if v7 {
		var ms [8]byte
		binary.BigEndian.PutUint64(ms[:], uint64(time.Now().UnixMilli()))
		copy(b[:6], ms[2:])
		b[6] = b[6]&0x0f | 0x70
	}
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
