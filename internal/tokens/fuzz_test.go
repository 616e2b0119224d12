package tokens

import (
	"reflect"
	"testing"
)

// FuzzVerify feeds arbitrary strings to Verify: it must never panic, and whatever it accepts must
// re-sign to a token that verifies to the same claims.
func FuzzVerify(f *testing.F) {
	kr := mustKeyring(f, Key{Secret: []byte("defaultencryptionkey")})
	f.Add(kr.Sign(&Claims{TokenID: testTID, UserID: testUser, Username: "alice", Vars: map[string]string{"a": "b"}, ExpiresAt: now + 60, IssuedAt: now}))
	f.Add(hs256("defaultencryptionkey", `{"typ":"JWT","alg":"HS256"}`, `{"tid":"`+testTID+`","uid":"`+testUser+`","exp":1900000060.5}`))
	f.Add(kr.Sign(&Claims{TokenID: testTID, UserID: testUser, ExpiresAt: now + 60, IssuedAt: now, StoreID: testStore}))
	f.Add("eyJhbGciOiJub25lIn0.e30.")
	f.Add("..")
	f.Fuzz(func(t *testing.T, token string) {
		c, err := kr.Verify(token, now)
		if err != nil {
			return
		}
		again, err := kr.Verify(kr.Sign(&c), now)
		if err != nil || !reflect.DeepEqual(again, c) {
			t.Fatalf("re-signed claims %+v verify as %+v, %v", c, again, err)
		}
	})
}

// FuzzParseClaims checks that the fast claims parser never disagrees with encoding/json: whenever the fast
// path accepts a payload, the reference decoder must decode it to the same claims.
func FuzzParseClaims(f *testing.F) {
	f.Add(`{"tid":"` + testTID + `","uid":"` + testUser + `","usn":"alice","vrs":{"a":"1"},"exp":1900000060,"iat":1900000000}`)
	f.Add(`{"exp":1,"exp":2}`)
	f.Add(`{"vrs":{"a":"1","a":"2"},"exp":5}`)
	f.Add(` { "exp" : 01 } `)
	f.Add(`{"exp":-0}`)
	f.Add(`{"usn":"\u0041","exp":3}`)
	f.Add(`{}`)
	f.Add(`{"tid":"` + testTID + `","uid":"` + testUser + `","exp":1900000060,"rsq":1,"sid":"` + testStore + `"}`)
	f.Add(`{"sid":"a","sid":"b","exp":1}`)
	f.Add(`{"tid":"` + testTID + `","uid":"` + testUser + `","exp":1900000060,"gen":3}`)
	f.Add(`{"gen":1,"gen":2,"exp":1}`)
	f.Fuzz(func(t *testing.T, payload string) {
		fast, ok := parseClaimsFast(payload)
		if !ok {
			parseClaims([]byte(payload)) // must not panic
			return
		}
		slow, err := parseClaimsSlow([]byte(payload))
		if err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refused it: %v", payload, err)
		}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("payload %q: fast %+v, slow %+v", payload, fast, slow)
		}
	})
}
