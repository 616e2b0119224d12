package tickets

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// sigSize is the size of a signature of either algorithm: Ed25519's, or ES256's r||s of 32 bytes each
// (RFC 7518, section 3.4); sigB64Size its length in base64url.
const (
	sigSize    = 64
	sigB64Size = 86
)

// key is one usable key.
type key struct {
	id, alg string
	created time.Time
	header  string // the base64url header segment of the tickets it signs
	ed      ed25519.PrivateKey
	edPub   ed25519.PublicKey
	ec      *ecdsa.PrivateKey
	ecPub   *ecdsa.PublicKey
	jwk     jwk
}

func (k *key) sign(r io.Reader, msg []byte) ([]byte, error) {
	if k.alg == EdDSA {
		return ed25519.Sign(k.ed, msg), nil
	}
	h := sha256.Sum256(msg)
	rr, ss, err := ecdsa.Sign(r, k.ec, h[:])
	if err != nil {
		return nil, err
	}
	sig := make([]byte, sigSize)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	return sig, nil
}

func (k *key) verify(msg string, sig []byte) bool {
	if k.alg == EdDSA {
		return ed25519.Verify(k.edPub, []byte(msg), sig)
	}
	h := sha256.Sum256([]byte(msg))
	return ecdsa.Verify(k.ecPub, h[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:]))
}

// jwk is a public key as RFC 7517 writes it (RFC 8037 for Ed25519).
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y,omitempty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// keySet is the keys a node uses, replaced whole on every refresh.
type keySet struct {
	signer   *key            // the newest
	byKID    map[string]*key // every published key
	byHeader map[string]*key
	jwks     []byte
}

func (ks *keySet) lookup(kid string) *key {
	if ks == nil {
		return nil
	}
	return ks.byKID[kid]
}

// newKey generates a key of the configured algorithm, created now.
func (s *Service) newKey(now time.Time) (storage.TicketKey, error) {
	var kid [12]byte
	if _, err := io.ReadFull(s.rand, kid[:]); err != nil {
		return storage.TicketKey{}, err
	}
	var priv, pub any
	switch s.cfg.Algorithm {
	case EdDSA:
		p, k, err := ed25519.GenerateKey(s.rand)
		if err != nil {
			return storage.TicketKey{}, err
		}
		pub, priv = p, k
	case ES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), s.rand)
		if err != nil {
			return storage.TicketKey{}, err
		}
		pub, priv = &k.PublicKey, k
	default:
		return storage.TicketKey{}, fmt.Errorf("tickets: unknown algorithm %q", s.cfg.Algorithm)
	}
	privDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return storage.TicketKey{}, err
	}
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return storage.TicketKey{}, err
	}
	return storage.TicketKey{ID: base64.RawURLEncoding.EncodeToString(kid[:]), Algorithm: s.cfg.Algorithm,
		Private: privDER, Public: pubDER, CreateTime: now.UTC()}, nil
}

// parseKey turns a stored key into a usable one, checking that its algorithm, private key and public key
// agree.
func parseKey(sk storage.TicketKey) (*key, error) {
	priv, err := x509.ParsePKCS8PrivateKey(sk.Private)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	pub, err := x509.ParsePKIXPublicKey(sk.Public)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k := &key{id: sk.ID, alg: sk.Algorithm, created: sk.CreateTime, jwk: jwk{Kid: sk.ID, Alg: sk.Algorithm, Use: "sig"}}
	switch sk.Algorithm {
	case EdDSA:
		ed, ok1 := priv.(ed25519.PrivateKey)
		edPub, ok2 := pub.(ed25519.PublicKey)
		if !ok1 || !ok2 || !bytes.Equal(ed.Public().(ed25519.PublicKey), edPub) {
			return nil, fmt.Errorf("not a matching Ed25519 key pair")
		}
		k.ed, k.edPub = ed, edPub
		k.jwk.Kty, k.jwk.Crv, k.jwk.X = "OKP", "Ed25519", base64.RawURLEncoding.EncodeToString(edPub)
	case ES256:
		ec, ok1 := priv.(*ecdsa.PrivateKey)
		ecPub, ok2 := pub.(*ecdsa.PublicKey)
		if !ok1 || !ok2 || ec.Curve != elliptic.P256() || !ec.PublicKey.Equal(ecPub) {
			return nil, fmt.Errorf("not a matching P-256 key pair")
		}
		point, err := ecPub.Bytes() // 0x04 || X || Y, 32 bytes each
		if err != nil {
			return nil, err
		}
		k.ec, k.ecPub = ec, ecPub
		k.jwk.Kty, k.jwk.Crv = "EC", "P-256"
		k.jwk.X = base64.RawURLEncoding.EncodeToString(point[1:33])
		k.jwk.Y = base64.RawURLEncoding.EncodeToString(point[33:])
	default:
		return nil, fmt.Errorf("unknown algorithm %q", sk.Algorithm)
	}
	h, err := json.Marshal(wireHeader{Alg: sk.Algorithm, Kid: sk.ID, Typ: "JWT"})
	if err != nil {
		return nil, err
	}
	k.header = base64.RawURLEncoding.EncodeToString(h)
	return k, nil
}

// refresh reads the keys, makes a new one when there is none or the newest is older than the rotation
// period, deletes those retired, and installs the published ones.
//
// Key i (newest first) is published while now is before the CreateTime of key i-1 plus MaxTTL plus
// retireGrace: until then, a ticket it signed may be live. The newest is always published, and signs.
// Two nodes that rotate at once make two keys; both are published, and the newer signs.
func (s *Service) refresh(ctx context.Context) error {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	stored, err := s.store.TicketKeys(ctx)
	if err != nil {
		return fmt.Errorf("tickets: reading keys: %w", err)
	}
	keys := s.usable(stored)
	now := s.clock()
	if len(keys) == 0 || now.Sub(keys[0].created) >= s.cfg.Rotation {
		nk, err := s.newKey(now)
		if err != nil {
			return fmt.Errorf("tickets: making a key: %w", err)
		}
		if err := s.store.AddTicketKey(ctx, nk); err != nil {
			return fmt.Errorf("tickets: storing a new key: %w", err)
		}
		s.log.Info("ticket keys: made a new signing key", "kid", nk.ID, "alg", nk.Algorithm)
		// Read them again, for keys other nodes made meanwhile.
		if stored, err = s.store.TicketKeys(ctx); err != nil {
			return fmt.Errorf("tickets: reading keys: %w", err)
		}
		if keys = s.usable(stored); len(keys) == 0 {
			return fmt.Errorf("tickets: the new key %s is not in the store", nk.ID)
		}
	}
	window := s.cfg.MaxTTL + retireGrace
	published := 1
	for published < len(keys) && now.Before(keys[published-1].created.Add(window)) {
		published++
	}
	if published < len(stored) {
		// Every key created before the oldest published one is retired. Unusable keys go too once they
		// are that old.
		cut := keys[published-1].created
		if n, err := s.store.DeleteTicketKeysBefore(ctx, cut); err != nil {
			s.log.Warn("ticket keys: deleting retired keys failed", "err", err)
		} else if n > 0 {
			s.log.Info("ticket keys: deleted retired keys", "count", n)
		}
	}
	s.keys.Store(newKeySet(keys[:published]))
	return nil
}

// usable parses the stored keys, leaving out (and reporting once) those it cannot use.
func (s *Service) usable(stored []storage.TicketKey) []*key {
	keys := make([]*key, 0, len(stored))
	for _, sk := range stored {
		k, err := parseKey(sk)
		if err != nil {
			if _, seen := s.warned.LoadOrStore(sk.ID, struct{}{}); !seen {
				s.log.Warn("ticket keys: ignoring a stored key", "kid", sk.ID, "err", err)
			}
			continue
		}
		keys = append(keys, k)
	}
	return keys
}

func newKeySet(keys []*key) *keySet {
	ks := &keySet{signer: keys[0], byKID: make(map[string]*key, len(keys)), byHeader: make(map[string]*key, len(keys))}
	set := struct {
		Keys []jwk `json:"keys"`
	}{Keys: make([]jwk, len(keys))}
	for i, k := range keys {
		ks.byKID[k.id] = k
		ks.byHeader[k.header] = k
		set.Keys[i] = k.jwk
	}
	ks.jwks, _ = json.Marshal(set) // strings and slices only: cannot fail
	return ks
}
