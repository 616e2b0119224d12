package social

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// GameCenter verifies the identity signature of a Game Center player (fetchItems / the older
// generateIdentityVerificationSignature). As in Nakama, the signature is RSA PKCS #1 v1.5 with SHA-256,
// by the certificate at public_key_url, over
//
//	player_id (UTF-8) || bundle_id (UTF-8) || timestamp (uint64, big-endian) || salt (decoded bytes)
//
// public_key_url must be https on an allowed host and is checked before anything is fetched. When
// social.apple.bundle_id is set the bundle id must equal it (Nakama does not compare it with anything).
func (v *Verifier) GameCenter(ctx context.Context, c GameCenterCredential) (Identity, error) {
	const provider = "game center"
	switch {
	case c.PlayerID == "" || c.BundleID == "" || c.Salt == "" || c.Signature == "" || c.PublicKeyURL == "":
		return Identity{}, invalid(provider, "player_id, bundle_id, salt, signature and public_key_url are all required")
	case c.TimestampSeconds == 0:
		return Identity{}, invalid(provider, "timestamp is required")
	case v.cfg.Apple.BundleID != "" && c.BundleID != v.cfg.Apple.BundleID:
		return Identity{}, invalid(provider, "bundle_id is not social.apple.bundle_id")
	case len(c.PlayerID)+len(c.BundleID)+len(c.Salt)+len(c.Signature)+len(c.PublicKeyURL) > maxTokenLen:
		return Identity{}, invalid(provider, "credential too long")
	}
	if err := v.checkKeyURL(c.PublicKeyURL); err != nil {
		return Identity{}, invalid(provider, "%v", err)
	}
	salt, err1 := base64.StdEncoding.DecodeString(c.Salt)
	sig, err2 := base64.StdEncoding.DecodeString(c.Signature)
	if err1 != nil || err2 != nil {
		return Identity{}, invalid(provider, "salt or signature is not base64")
	}
	cert, err := v.certs.get(ctx, provider, c.PublicKeyURL, nil)
	if err != nil {
		return Identity{}, err
	}
	signed := make([]byte, 0, len(c.PlayerID)+len(c.BundleID)+8+len(salt))
	signed = append(signed, c.PlayerID...)
	signed = append(signed, c.BundleID...)
	signed = binary.BigEndian.AppendUint64(signed, uint64(c.TimestampSeconds))
	signed = append(signed, salt...)
	if cert.CheckSignature(x509.SHA256WithRSA, signed, sig) != nil {
		return Identity{}, invalid(provider, "signature does not verify")
	}
	return Identity{ID: c.PlayerID}, nil
}

// checkKeyURL allows https URLs with a path on a host named by social.gamecenter.key_host_suffixes.
func (v *Verifier) checkKeyURL(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return errors.New("public_key_url is not a URL")
	case u.Scheme != "https":
		return errors.New("public_key_url is not https")
	case u.User != nil || u.Host == "":
		return errors.New("public_key_url has no host or has user info")
	case u.Path == "" || u.Path == "/":
		return errors.New("public_key_url has no path")
	}
	host, name := strings.ToLower(u.Host), strings.ToLower(u.Hostname())
	for _, allowed := range v.cfg.GameCenter.KeyHostSuffixes {
		if strings.HasPrefix(allowed, ".") {
			if strings.HasSuffix(name, allowed) && (u.Port() == "" || u.Port() == "443") {
				return nil
			}
		} else if host == allowed {
			return nil
		}
	}
	return errors.New("public_key_url host is not allowed")
}

// fetchCertificate fetches a Game Center certificate, DER as Apple serves it or PEM. The URL came from the
// client, so an answer that is not a certificate refuses the credential rather than signalling an outage.
func (v *Verifier) fetchCertificate(ctx context.Context, provider, url string) (*x509.Certificate, time.Duration, error) {
	resp, err := v.get(ctx, provider, url)
	if err != nil {
		return nil, 0, err
	}
	switch {
	case resp.status >= 500 || resp.status == http.StatusTooManyRequests:
		return nil, 0, v.outage(provider, "public key URL answered HTTP %d", resp.status)
	case resp.status != http.StatusOK:
		return nil, 0, invalid(provider, "public key URL answered HTTP %d", resp.status)
	}
	der := resp.body
	if block, _ := pem.Decode(resp.body); block != nil {
		der = block.Bytes
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, 0, invalid(provider, "public key URL does not hold a certificate")
	}
	return cert, lifetime(resp.header), nil
}
