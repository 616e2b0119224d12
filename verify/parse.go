package verify

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// b64 is base64url without padding, strict: the unused bits of the last character must be zero, so that
// one ticket has exactly one spelling (and one jti cannot be replayed under another).
var b64 = base64.RawURLEncoding.Strict()

// parsed is a compact JWS split and decoded, its signature not yet checked.
type parsed struct {
	alg, kid string
	signed   []byte // header.payload, the signing input
	payload  []byte // decoded
	sig      []byte // decoded
}

// header is a ticket's JOSE header.
type header struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  *string         `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// parseTicket splits a compact JWS (three base64url parts, no padding) and decodes its header, payload
// and signature into one buffer. The header must name an allowed alg and a kid, may say typ JWT, and must
// not carry crit (no extension is understood, so none may be required).
func parseTicket(ticket string) (parsed, error) {
	h, rest, ok1 := strings.Cut(ticket, ".")
	pl, sig, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.IndexByte(sig, '.') >= 0 || h == "" || pl == "" || sig == "" {
		return parsed{}, ErrMalformed
	}
	// One allocation holds the ticket's bytes (the signing input is their start) and every decoded part.
	nh, np, ns := b64.DecodedLen(len(h)), b64.DecodedLen(len(pl)), b64.DecodedLen(len(sig))
	buf := make([]byte, len(ticket)+nh+np+ns)
	copy(buf, ticket)
	text, dec := buf[:len(ticket)], buf[len(ticket):]
	signedLen := len(h) + 1 + len(pl)
	hb, err1 := decode(dec[:nh], text[:len(h)])
	payload, err2 := decode(dec[nh:nh+np], text[len(h)+1:signedLen])
	sigb, err3 := decode(dec[nh+np:], text[signedLen+1:])
	if err1 != nil || err2 != nil || err3 != nil {
		return parsed{}, ErrMalformed
	}
	var hd header
	if json.Unmarshal(hb, &hd) != nil || hd.Crit != nil || hd.Kid == "" || (hd.Typ != nil && *hd.Typ != "JWT") {
		return parsed{}, ErrMalformed
	}
	if hd.Alg != algEdDSA && hd.Alg != algES256 {
		return parsed{}, ErrMalformed
	}
	return parsed{alg: hd.Alg, kid: hd.Kid, signed: text[:signedLen], payload: payload, sig: sigb}, nil
}

func decode(dst, src []byte) ([]byte, error) {
	n, err := b64.Decode(dst, src)
	return dst[:n], err
}

// wireClaims is a ticket's payload as the node writes it.
type wireClaims struct {
	Iss string            `json:"iss"`
	Sub string            `json:"sub"`
	Aud string            `json:"aud"`
	Iat int64             `json:"iat"`
	Exp int64             `json:"exp"`
	Jti string            `json:"jti"`
	Sid string            `json:"sid"`
	Gen int64             `json:"gen"`
	Usn string            `json:"usn"`
	Vrs map[string]string `json:"vrs"`
	Typ string            `json:"typ"`
}

// ticketClaims are Claims with the forms Verify compares.
type ticketClaims struct {
	Claims
	iat, exp int64
	id       [16]byte // the jti, parsed
}

// ticketType is the typ claim of every join ticket, so that no other JWT the node's keys might sign
// passes for one.
const ticketType = "latchkey-ticket"

// parseClaims decodes a payload whose signature was checked and validates its shape: every claim the
// contract requires is present and well formed. Audience, issuer and times are compared by the caller.
func parseClaims(payload []byte) (ticketClaims, error) {
	var w wireClaims
	if json.Unmarshal(payload, &w) != nil {
		return ticketClaims{}, ErrMalformed
	}
	id, ok := parseUUID(w.Jti)
	if !ok || w.Typ != ticketType || w.Sub == "" || w.Sid == "" || w.Aud == "" || w.Iat <= 0 || w.Exp <= 0 || w.Gen < 0 {
		return ticketClaims{}, ErrMalformed
	}
	if len(w.Vrs) == 0 {
		w.Vrs = nil
	}
	return ticketClaims{
		Claims: Claims{
			Issuer: w.Iss, UserID: w.Sub, Audience: w.Aud, ID: w.Jti, SessionID: w.Sid, Generation: w.Gen,
			Username: w.Usn, Vars: w.Vrs, IssuedAt: time.Unix(w.Iat, 0), ExpiresAt: time.Unix(w.Exp, 0),
		},
		iat: w.Iat, exp: w.Exp, id: id,
	}, nil
}

// parseUUID parses the 36-character text form of a UUID (either case of hex digits).
func parseUUID(s string) ([16]byte, bool) {
	var id [16]byte
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return id, false
	}
	for j, i := range uuidBytes {
		hi, ok1 := unhex(s[i])
		lo, ok2 := unhex(s[i+1])
		if !ok1 || !ok2 {
			return id, false
		}
		id[j] = hi<<4 | lo
	}
	return id, true
}

// uuidBytes are the offsets of the 16 hex pairs in a UUID's text.
var uuidBytes = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}
