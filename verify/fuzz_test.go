package verify

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// FuzzParseTicket feeds the compact-JWS parser arbitrary text (seeds in testdata/fuzz/FuzzParseTicket:
// tickets as verifytest mints them, and near misses). It must never panic, must refuse with ErrMalformed
// only, and what it accepts must be the one canonical spelling of its parts, with an allowed alg and a kid.
func FuzzParseTicket(f *testing.F) {
	f.Add("eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.AA")
	f.Fuzz(func(t *testing.T, ticket string) {
		p, err := parseTicket(ticket)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v, want ErrMalformed", err)
			}
			return
		}
		parts := strings.Split(ticket, ".")
		if len(parts) != 3 {
			t.Fatalf("accepted %d parts", len(parts))
		}
		if string(p.signed) != parts[0]+"."+parts[1] || b64.EncodeToString(p.payload) != parts[1] || b64.EncodeToString(p.sig) != parts[2] {
			t.Fatalf("accepted a non-canonical spelling: %q", ticket)
		}
		if (p.alg != algEdDSA && p.alg != algES256) || p.kid == "" {
			t.Fatalf("accepted alg %q kid %q", p.alg, p.kid)
		}
		checkClaims(t, p.payload)
	})
}

// FuzzParseClaims feeds the claims parser arbitrary payloads (seeds in testdata/fuzz/FuzzParseClaims).
func FuzzParseClaims(f *testing.F) {
	f.Add([]byte(`{"sub":"u","aud":"a","iat":1,"exp":2,"jti":"01890a5d-ac96-774b-bcce-b302099a8057","sid":"s","typ":"latchkey-ticket"}`))
	f.Fuzz(checkClaims)
}

// checkClaims parses payload and, when it is accepted, checks that the claims keep the contract's shape.
func checkClaims(t *testing.T, payload []byte) {
	c, err := parseClaims(payload)
	if err != nil {
		if !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %v, want ErrMalformed", err)
		}
		return
	}
	if c.UserID == "" || c.SessionID == "" || c.Audience == "" || c.exp <= 0 || c.iat <= 0 || c.Generation < 0 {
		t.Fatalf("accepted claims %+v", c)
	}
	if c.ExpiresAt.Unix() != c.exp || c.IssuedAt.Unix() != c.iat {
		t.Fatalf("times %v %v differ from exp %d iat %d", c.ExpiresAt, c.IssuedAt, c.exp, c.iat)
	}
	h := hex.EncodeToString(c.id[:])
	if want := h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]; strings.ToLower(c.ID) != want {
		t.Fatalf("jti %q parsed as %s", c.ID, want)
	}
	if c.Vars != nil && len(c.Vars) == 0 {
		t.Fatal("empty vars are not nil")
	}
}
