package tokens

import (
	"encoding/json"
	"math"
	"strings"
)

// parseClaims decodes a verified payload. The fast path handles what Latchkey and Nakama write (a flat
// object of plain strings, integers and the vrs object, no escapes) with one allocation for the whole
// payload; anything else goes through encoding/json, so unusual but valid payloads still parse the same.
func parseClaims(payload []byte) (Claims, error) {
	c, ok := parseClaimsFast(string(payload))
	if !ok {
		var err error
		c, err = parseClaimsSlow(payload)
		if err != nil {
			return Claims{}, err
		}
	}
	return validateClaims(c)
}

func validateClaims(c Claims) (Claims, error) {
	if c.ExpiresAt == 0 || c.RefreshSeq < 0 || c.Generation < 0 {
		return Claims{}, ErrMalformed
	}
	var ok bool
	if c.UserID, ok = CanonicalID(c.UserID); !ok {
		return Claims{}, ErrMalformed
	}
	// Latchkey revokes by token id, so a token without a usable tid could never be logged out: refuse it.
	if c.TokenID, ok = CanonicalID(c.TokenID); !ok {
		return Claims{}, ErrMalformed
	}
	return c, nil
}

// parseClaimsFast scans s, which must be the exact payload text, and takes claim strings as substrings of
// it. It reports false for anything outside its simple subset.
func parseClaimsFast(s string) (Claims, bool) {
	var c Claims
	p := scanner{s: s}
	if !p.consume('{') {
		return c, false
	}
	if p.consume('}') {
		p.space()
		return c, p.i == len(p.s)
	}
	seen := 0
	for {
		key, ok := p.str()
		if !ok || !p.consume(':') {
			return c, false
		}
		var bit int
		switch key {
		case "tid":
			bit = 1
			c.TokenID, ok = p.str()
		case "uid":
			bit = 2
			c.UserID, ok = p.str()
		case "usn":
			bit = 4
			c.Username, ok = p.str()
		case "exp":
			bit = 8
			c.ExpiresAt, ok = p.int()
		case "iat":
			bit = 16
			c.IssuedAt, ok = p.int()
		case "vrs":
			bit = 32
			c.Vars, ok = p.vars()
		case "rsq":
			bit = 64
			c.RefreshSeq, ok = p.int()
		case "sid":
			bit = 128
			c.StoreID, ok = p.str()
		case "gen":
			bit = 256
			c.Generation, ok = p.int()
		default:
			// Unknown claims are legal; let encoding/json skip them.
			return c, false
		}
		// A repeated claim is resolved by encoding/json's last-one-wins rule on the slow path.
		if !ok || seen&bit != 0 {
			return c, false
		}
		seen |= bit
		if p.consume(',') {
			continue
		}
		if p.consume('}') {
			p.space()
			return c, p.i == len(p.s)
		}
		return c, false
	}
}

type scanner struct {
	s string
	i int
}

func (p *scanner) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) consume(b byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == b {
		p.i++
		return true
	}
	return false
}

// str reads a string without escapes or control characters, valid UTF-8 being guaranteed by the slow
// path's rejection: any byte >= 0x80 sends the payload there, so substrings here are plain ASCII.
func (p *scanner) str() (string, bool) {
	if !p.consume('"') {
		return "", false
	}
	start := p.i
	for p.i < len(p.s) && plainByte[p.s[p.i]] {
		p.i++
	}
	if p.i == len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	v := p.s[start:p.i]
	p.i++
	return v, true
}

// plainByte marks the bytes the fast path copies verbatim inside a string: printable ASCII but for the
// quote and the backslash.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// hexDigit maps lowercase hex digits to their value plus one; zero marks anything else.
var hexDigit = func() (t [256]byte) {
	for c := '0'; c <= '9'; c++ {
		t[c] = byte(c-'0') + 1
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = byte(c-'a') + 11
	}
	return t
}()

// int reads a JSON integer that fits in int64; fractions and exponents go to the slow path.
func (p *scanner) int() (int64, bool) {
	p.space()
	neg := false
	if p.i < len(p.s) && p.s[p.i] == '-' {
		neg = true
		p.i++
	}
	start := p.i
	var v int64
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		d := int64(p.s[p.i] - '0')
		if v > (math.MaxInt64-d)/10 {
			return 0, false
		}
		v = v*10 + d
		p.i++
	}
	n := p.i - start
	if n == 0 || (n > 1 && p.s[start] == '0') {
		return 0, false
	}
	if p.i < len(p.s) && (p.s[p.i] == '.' || p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		return 0, false
	}
	if neg {
		v = -v
	}
	return v, true
}

func (p *scanner) vars() (map[string]string, bool) {
	if !p.consume('{') {
		return nil, false
	}
	if p.consume('}') {
		return nil, true
	}
	m := make(map[string]string, 4)
	for {
		k, ok := p.str()
		if !ok || !p.consume(':') {
			return nil, false
		}
		v, ok := p.str()
		if !ok {
			return nil, false
		}
		if _, dup := m[k]; dup {
			return nil, false
		}
		m[k] = v
		if p.consume(',') {
			continue
		}
		return m, p.consume('}')
	}
}

// parseClaimsSlow is the reference decoder: encoding/json with the claim types golang-jwt (which Nakama
// uses) accepts, including fractional NumericDate values.
func parseClaimsSlow(payload []byte) (Claims, error) {
	var raw struct {
		TokenID  string            `json:"tid"`
		UserID   string            `json:"uid"`
		Username string            `json:"usn"`
		Vars     map[string]string `json:"vrs"`
		Exp      *float64          `json:"exp"`
		Iat      *float64          `json:"iat"`
		Rsq      *float64          `json:"rsq"`
		StoreID  string            `json:"sid"`
		Gen      *float64          `json:"gen"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, ErrMalformed
	}
	c := Claims{TokenID: raw.TokenID, UserID: raw.UserID, Username: raw.Username, Vars: raw.Vars, StoreID: raw.StoreID}
	if len(c.Vars) == 0 {
		c.Vars = nil
	}
	var ok bool
	if c.ExpiresAt, ok = seconds(raw.Exp); !ok {
		return Claims{}, ErrMalformed
	}
	if c.IssuedAt, ok = seconds(raw.Iat); !ok {
		return Claims{}, ErrMalformed
	}
	if c.RefreshSeq, ok = seconds(raw.Rsq); !ok {
		return Claims{}, ErrMalformed
	}
	if c.Generation, ok = seconds(raw.Gen); !ok {
		return Claims{}, ErrMalformed
	}
	return c, nil
}

func seconds(f *float64) (int64, bool) {
	if f == nil {
		return 0, true
	}
	if math.IsNaN(*f) || *f >= math.MaxInt64 || *f <= math.MinInt64 {
		return 0, false
	}
	return int64(math.Floor(*f)), true
}

// canonicalUUID reports whether s is a UUID in canonical lowercase 8-4-4-4-12 form.
func canonicalUUID(s string) bool {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return false
	}
	var miss byte
	for _, i := range uuidHexAt {
		miss |= hexDigit[s[i]] - 1 // 0xff for a non-digit, which sets the top bit
	}
	return miss&0x80 == 0
}

// uuidHexAt lists the positions of the 32 hex digits in the canonical UUID form.
var uuidHexAt = [32]uint8{0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35}

// CanonicalID returns s as a canonical lowercase UUID (8-4-4-4-12 hex digits), accepting upper-case
// digits, and reports false for anything else. It allocates only when s has upper-case digits.
func CanonicalID(s string) (string, bool) {
	if canonicalUUID(s) {
		return s, true
	}
	lower := strings.ToLower(s)
	return lower, canonicalUUID(lower)
}

// ParseID converts a canonical lowercase UUID to its 16 bytes without allocating. It reports false for
// anything else.
func ParseID(s string) (id [16]byte, ok bool) {
	if !canonicalUUID(s) {
		return id, false
	}
	j := 0
	for i := 0; i < 36; {
		if s[i] == '-' {
			i++
			continue
		}
		id[j] = (hexDigit[s[i]]-1)<<4 | (hexDigit[s[i+1]] - 1)
		j++
		i += 2
	}
	return id, true
}
