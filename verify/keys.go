package verify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math/big"
	"time"
)

// The ticket algorithms: the allow-list, each bound to one key type.
const (
	algEdDSA = "EdDSA" // kty OKP, crv Ed25519
	algES256 = "ES256" // kty EC, crv P-256, signature r||s
)

// key is one published ticket key.
type key struct {
	alg string
	ed  ed25519.PublicKey
	ec  *ecdsa.PublicKey
}

// verify checks sig over signed. The ticket's alg must be the key's: a ticket cannot choose how it is checked.
func (k *key) verify(alg string, signed, sig []byte) bool {
	if alg != k.alg {
		return false
	}
	switch k.alg {
	case algEdDSA:
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, signed, sig)
	case algES256:
		if len(sig) != 64 {
			return false
		}
		h := sha256.Sum256(signed)
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k.ec, h[:], r, s)
	}
	return false
}

// keySet is the keys of one JWKS fetch, by kid. It is never modified once stored.
type keySet struct {
	byID map[string]*key
}

// jwk is a member of the JWKS as the node publishes it.
type jwk struct {
	Kty string `json:"kty"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
}

// parseJWKS reads a JWKS body. Keys of other types or uses, or without a kid, are skipped, so that a later
// node may publish more; a malformed key of a known type is an error, as is a kid given twice.
func parseJWKS(body []byte) (*keySet, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("JWKS is not JSON: %w", err)
	}
	if doc.Keys == nil {
		return nil, fmt.Errorf("JWKS has no keys member")
	}
	set := &keySet{byID: make(map[string]*key, len(doc.Keys))}
	for _, j := range doc.Keys {
		if j.Kid == "" || (j.Use != "" && j.Use != "sig") {
			continue
		}
		var k *key
		var err error
		switch {
		case j.Kty == "OKP" && j.Crv == "Ed25519" && (j.Alg == "" || j.Alg == algEdDSA):
			k, err = edKey(j)
		case j.Kty == "EC" && j.Crv == "P-256" && (j.Alg == "" || j.Alg == algES256):
			k, err = ecKey(j)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("JWKS key %q: %w", j.Kid, err)
		}
		if set.byID[j.Kid] != nil {
			return nil, fmt.Errorf("JWKS has kid %q twice", j.Kid)
		}
		set.byID[j.Kid] = k
	}
	return set, nil
}

func edKey(j jwk) (*key, error) {
	x, err := b64.DecodeString(j.X)
	if err != nil || len(x) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("x is not a base64url Ed25519 public key")
	}
	return &key{alg: algEdDSA, ed: ed25519.PublicKey(x)}, nil
}

func ecKey(j jwk) (*key, error) {
	x, errX := b64.DecodeString(j.X)
	y, errY := b64.DecodeString(j.Y)
	if errX != nil || errY != nil || len(x) != 32 || len(y) != 32 {
		return nil, fmt.Errorf("x and y are not base64url P-256 coordinates")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	if err != nil {
		return nil, fmt.Errorf("not a P-256 point: %w", err)
	}
	return &key{alg: algES256, ec: pub}, nil
}

// maxJWKSBytes bounds the JWKS body read.
const maxJWKSBytes = 1 << 20

// fetchKeys fetches the JWKS and, when it parses, replaces the key set. The caller holds refreshMu.
func (v *Verifier) fetchKeys(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	body, err := v.get(ctx, "/.well-known/jwks.json", false, maxJWKSBytes)
	if err != nil {
		return err
	}
	set, err := parseJWKS(body)
	if err != nil {
		return err
	}
	v.keys.Store(set)
	if !v.keysReady.Swap(true) {
		v.markReady()
	}
	return nil
}

// refreshKeys fetches the keys at start (retrying until it succeeds) and every KeysInterval after.
func (v *Verifier) refreshKeys(ctx context.Context) {
	failures := 0
	for {
		v.refreshMu.Lock()
		err := v.fetchKeys(ctx)
		v.refreshMu.Unlock()
		wait := v.cfg.KeysInterval
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			wait = retryDelay(failures, v.cfg.MaxRetryDelay)
			v.log.Warn("verify: fetching the ticket keys failed", "url", v.base+"/.well-known/jwks.json", "err", err, "retry_in", wait)
		} else {
			failures = 0
		}
		if !sleep(ctx, wait) {
			return
		}
	}
}

// keyFor returns the key with kid, or nil. A kid it does not know makes it fetch the keys at once (for a
// key that was just rotated in), unless another unknown kid did so less than KeysMinInterval ago.
func (v *Verifier) keyFor(kid string) *key {
	if k := v.keys.Load().byID[kid]; k != nil {
		return k
	}
	v.refreshMu.Lock()
	defer v.refreshMu.Unlock()
	// A fetch that another caller made while this one waited may have brought the key.
	if k := v.keys.Load().byID[kid]; k != nil {
		return k
	}
	now := time.Now()
	if !v.lastAsked.IsZero() && now.Sub(v.lastAsked) < v.cfg.KeysMinInterval {
		return nil
	}
	v.lastAsked = now
	if err := v.fetchKeys(v.ctx); err != nil {
		v.log.Warn("verify: fetching the ticket keys for an unknown kid failed", "err", err)
		return nil
	}
	return v.keys.Load().byID[kid]
}
