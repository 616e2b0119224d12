package tokens

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"
)

const (
	testUser  = "7e2ef4b4-1b7b-4bd8-8a6c-1f5b9a0e8d11"
	testTID   = "0f3c1d2e-9a8b-4c7d-8e6f-5a4b3c2d1e0f"
	testStore = "5b0d7f3e-2c1a-4e8b-9d6f-0a1b2c3d4e5f"
	now       = int64(1_900_000_000)
)

func mustKeyring(t testing.TB, active Key, others ...Key) *Keyring {
	t.Helper()
	kr, err := NewKeyring(active, others...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func sampleClaims() Claims {
	return Claims{TokenID: testTID, UserID: testUser, Username: "alice", Vars: map[string]string{"region": "eu", "tier": "gold"}, ExpiresAt: now + 60, IssuedAt: now}
}

// hs256 builds a token from raw header and payload JSON, the way any other JWT library might.
func hs256(secret, header, payload string) string {
	enc := base64.RawURLEncoding
	in := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(payload))
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(in))
	return in + "." + enc.EncodeToString(m.Sum(nil))
}

func TestSignVerifyRoundTrip(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	for _, c := range []Claims{
		sampleClaims(),
		{TokenID: testTID, UserID: testUser, ExpiresAt: now + 1},
		{TokenID: testTID, UserID: testUser, Username: `quote" back\slash <tag> é 名前`, Vars: map[string]string{"k\n": "v\x00", "ünï": "cödé"}, ExpiresAt: now + 1, IssuedAt: now},
		{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 1, IssuedAt: now, RefreshSeq: 3, StoreID: testStore},
		{TokenID: testTID, UserID: testUser, ExpiresAt: now + 1, IssuedAt: now, StoreID: testStore, Generation: 7},
	} {
		tok := kr.Sign(&c)
		got, err := kr.Verify(tok, now)
		if err != nil {
			t.Fatalf("Verify(%q) = %v", tok, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip: got %+v, want %+v", got, c)
		}
	}
}

func TestSignMatchesNakamaLayout(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	c := Claims{TokenID: testTID, UserID: testUser, Username: "alice", Vars: map[string]string{"b": "2", "a": "1"}, ExpiresAt: now + 60, IssuedAt: now}
	tok := kr.Sign(&c)
	parts := strings.Split(tok, ".")
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if got, want := string(header), `{"alg":"HS256","typ":"JWT"}`; got != want {
		t.Errorf("header = %s, want %s", got, want)
	}
	want := `{"tid":"` + testTID + `","uid":"` + testUser + `","usn":"alice","vrs":{"a":"1","b":"2"},"exp":1900000060,"iat":1900000000}`
	if string(payload) != want {
		t.Errorf("payload = %s, want %s", payload, want)
	}
	// The same token must be what a generic HS256 implementation produces for that header and payload.
	if other := hs256("defaultencryptionkey", string(header), string(payload)); other != tok {
		t.Errorf("signature differs from a reference HMAC: %s vs %s", tok, other)
	}
}

// TestStoreIDClaim: sid follows Nakama's claims (and rsq) in the payload, and the fast parser reads it.
func TestStoreIDClaim(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	c := Claims{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now, RefreshSeq: 2, StoreID: testStore}
	tok := kr.Sign(&c)
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	want := `{"tid":"` + testTID + `","uid":"` + testUser + `","usn":"alice","exp":1900000060,"iat":1900000000,"rsq":2,"sid":"` + testStore + `"}`
	if string(payload) != want {
		t.Errorf("payload = %s, want %s", payload, want)
	}
	fast, ok := parseClaimsFast(string(payload))
	if !ok || fast.StoreID != testStore {
		t.Errorf("fast path: %+v, %v; want sid %s", fast, ok, testStore)
	}
	// A token without the claim (Nakama's, or an older Latchkey's) verifies with an empty StoreID.
	c.StoreID = ""
	got, err := kr.Verify(kr.Sign(&c), now)
	if err != nil || got.StoreID != "" {
		t.Errorf("token without sid: %+v, %v", got, err)
	}
}

// TestGenerationClaim: gen comes last, only when not 0, and both parsers read it; a negative one is refused.
func TestGenerationClaim(t *testing.T) {
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	c := Claims{TokenID: testTID, UserID: testUser, ExpiresAt: now + 60, IssuedAt: now, StoreID: testStore, Generation: 12}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(kr.Sign(&c), ".")[1])
	want := `{"tid":"` + testTID + `","uid":"` + testUser + `","exp":1900000060,"iat":1900000000,"sid":"` + testStore + `","gen":12}`
	if string(payload) != want {
		t.Errorf("payload = %s, want %s", payload, want)
	}
	if fast, ok := parseClaimsFast(string(payload)); !ok || fast.Generation != 12 {
		t.Errorf("fast path: %+v, %v; want gen 12", fast, ok)
	}
	if slow, err := parseClaimsSlow([]byte(strings.Replace(string(payload), "12", "12.0", 1))); err != nil || slow.Generation != 12 {
		t.Errorf("slow path: %+v, %v; want gen 12", slow, err)
	}
	c.Generation = 0
	if payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(kr.Sign(&c), ".")[1]); strings.Contains(string(payload), "gen") {
		t.Errorf("generation 0 written: %s", payload)
	}
	neg := `{"tid":"` + testTID + `","uid":"` + testUser + `","exp":1900000060,"gen":-1}`
	if _, err := parseClaims([]byte(neg)); err != ErrMalformed {
		t.Errorf("negative gen: %v, want ErrMalformed", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	secret := "defaultencryptionkey"
	kr := mustKeyring(t, Key{Secret: []byte(secret)})
	good := kr.Sign(&Claims{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now})
	parts := strings.Split(good, ".")
	payloadOf := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
		return string(b)
	}
	okPayload := `{"tid":"` + testTID + `","uid":"` + testUser + `","exp":1900000060}`
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"empty", "", ErrMalformed},
		{"one part", "abc", ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], ErrMalformed},
		{"four parts", good + ".x", ErrMalformed},
		{"empty header", "." + parts[1] + "." + parts[2], ErrMalformed},
		{"tampered payload", parts[0] + "." + payloadOf(strings.Replace(okPayload, "1900000060", "1990000060", 1)) + "." + parts[2], ErrSignature},
		{"tampered signature", parts[0] + "." + parts[1] + "." + flip(parts[2], 5), ErrSignature},
		{"truncated signature", parts[0] + "." + parts[1] + "." + parts[2][:42], ErrSignature},
		{"non-canonical signature bits", parts[0] + "." + parts[1] + "." + parts[2][:42] + string(rune(parts[2][42]^1)), ErrSignature},
		{"wrong key", hs256("another-secret", `{"alg":"HS256","typ":"JWT"}`, okPayload), ErrSignature},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + payloadOf(okPayload) + ".", ErrMalformed},
		{"alg none with signature", hs256(secret, `{"alg":"none","typ":"JWT"}`, okPayload), ErrMalformed},
		{"alg HS512", hs256(secret, `{"alg":"HS512","typ":"JWT"}`, okPayload), ErrMalformed},
		{"alg RS256", hs256(secret, `{"alg":"RS256","typ":"JWT"}`, okPayload), ErrMalformed},
		{"alg missing", hs256(secret, `{"typ":"JWT"}`, okPayload), ErrMalformed},
		{"crit header", hs256(secret, `{"alg":"HS256","crit":["exp"]}`, okPayload), ErrMalformed},
		{"header not json", hs256(secret, `not json`, okPayload), ErrMalformed},
		{"unknown kid", hs256(secret, `{"alg":"HS256","kid":"k9","typ":"JWT"}`, okPayload), ErrSignature},
		{"payload not json", hs256(secret, `{"alg":"HS256","typ":"JWT"}`, `nope`), ErrMalformed},
		{"payload array", hs256(secret, `{"alg":"HS256","typ":"JWT"}`, `[1]`), ErrMalformed},
		{"missing exp", hs256(secret, `{"alg":"HS256","typ":"JWT"}`, `{"tid":"`+testTID+`","uid":"`+testUser+`"}`), ErrMalformed},
		{"exp as string", hs256(secret, `{"alg":"HS256","typ":"JWT"}`, `{"tid":"`+testTID+`","uid":"`+testUser+`","exp":"1900000060"}`), ErrMalformed},
		{"uid not uuid", hs256(secret, `{"alg":"HS256","typ":"JWT"}`, `{"tid":"`+testTID+`","uid":"alice","exp":1900000060}`), ErrMalformed},
		{"missing tid", hs256(secret, `{"alg":"HS256","typ":"JWT"}`, `{"uid":"`+testUser+`","exp":1900000060}`), ErrMalformed},
		{"vars not strings", hs256(secret, `{"alg":"HS256","typ":"JWT"}`, `{"tid":"`+testTID+`","uid":"`+testUser+`","vrs":{"a":1},"exp":1900000060}`), ErrMalformed},
		{"expired at exp", kr.Sign(&Claims{TokenID: testTID, UserID: testUser, ExpiresAt: now}), ErrExpired},
		{"expired long ago", kr.Sign(&Claims{TokenID: testTID, UserID: testUser, ExpiresAt: 1}), ErrExpired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := kr.Verify(tt.token, now)
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyAcceptsForeignButValidEncodings(t *testing.T) {
	secret := "defaultencryptionkey"
	kr := mustKeyring(t, Key{Secret: []byte(secret)})
	tests := []struct {
		name, header, payload string
		want                  Claims
	}{
		{"reordered header and spaces", `{ "typ": "JWT", "alg": "HS256" }`,
			`{ "exp": 1900000060.9, "uid": "` + strings.ToUpper(testUser) + `", "tid": "` + testTID + `", "extra": [1, {"x": null}] }`,
			Claims{TokenID: testTID, UserID: testUser, ExpiresAt: 1900000060}},
		{"escaped username", `{"alg":"HS256","typ":"JWT"}`,
			`{"tid":"` + testTID + `","uid":"` + testUser + `","usn":"a\u003cb\"c","exp":1900000060}`,
			Claims{TokenID: testTID, UserID: testUser, Username: `a<b"c`, ExpiresAt: 1900000060}},
		{"no typ", `{"alg":"HS256"}`,
			`{"tid":"` + testTID + `","uid":"` + testUser + `","exp":1900000060,"iat":1900000000}`,
			Claims{TokenID: testTID, UserID: testUser, ExpiresAt: 1900000060, IssuedAt: 1900000000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := kr.Verify(hs256(secret, tt.header, tt.payload), now)
			if err != nil {
				t.Fatalf("Verify = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	legacy := Key{Secret: []byte("defaultencryptionkey")}
	k1 := Key{ID: "k1", Secret: []byte("0123456789abcdef0123456789abcdef")}
	k2 := Key{ID: "k2", Secret: []byte("fedcba9876543210fedcba9876543210")}
	c := sampleClaims()

	byLegacy := mustKeyring(t, legacy).Sign(&c)
	byK1 := mustKeyring(t, k1, legacy).Sign(&c)
	rotated := mustKeyring(t, k2, k1, legacy)
	for name, tok := range map[string]string{"legacy": byLegacy, "k1": byK1, "k2": rotated.Sign(&c)} {
		if _, err := rotated.Verify(tok, now); err != nil {
			t.Errorf("%s token after rotation: %v", name, err)
		}
	}
	header, _ := base64.RawURLEncoding.DecodeString(strings.Split(rotated.Sign(&c), ".")[0])
	if got, want := string(header), `{"alg":"HS256","kid":"k2","typ":"JWT"}`; got != want {
		t.Errorf("header = %s, want %s", got, want)
	}
	// Once k1 is dropped from the ring, its tokens stop verifying; tokens signed by k2 do not verify
	// against a ring that never knew k2.
	if _, err := mustKeyring(t, k2, legacy).Verify(byK1, now); !errors.Is(err, ErrSignature) {
		t.Errorf("dropped key: got %v, want ErrSignature", err)
	}
	if _, err := mustKeyring(t, k1).Verify(rotated.Sign(&c), now); !errors.Is(err, ErrSignature) {
		t.Errorf("unknown key: got %v, want ErrSignature", err)
	}
	// A token claiming kid k1 but signed with k2's secret fails.
	forged := hs256(string(k2.Secret), `{"alg":"HS256","kid":"k1","typ":"JWT"}`, `{"tid":"`+testTID+`","uid":"`+testUser+`","exp":1900000060}`)
	if _, err := rotated.Verify(forged, now); !errors.Is(err, ErrSignature) {
		t.Errorf("kid/secret mismatch: got %v, want ErrSignature", err)
	}
}

func TestNewKeyringErrors(t *testing.T) {
	if _, err := NewKeyring(Key{ID: "a"}); err == nil {
		t.Error("empty secret accepted")
	}
	if _, err := NewKeyring(Key{ID: "a", Secret: []byte("x")}, Key{ID: "a", Secret: []byte("y")}); err == nil {
		t.Error("duplicate id accepted")
	}
	if _, err := NewKeyring(Key{Secret: []byte("x")}, Key{Secret: []byte("y")}); err == nil {
		t.Error("two id-less keys accepted")
	}
}

func TestParseID(t *testing.T) {
	id, ok := ParseID(testUser)
	if !ok || id[0] != 0x7e || id[15] != 0x11 {
		t.Errorf("ParseID(%q) = %x, %v", testUser, id, ok)
	}
	for _, bad := range []string{"", strings.ToUpper(testUser), testUser[:35], testUser + "0", strings.Replace(testUser, "-", "x", 1), "{" + testUser[1:]} {
		if _, ok := ParseID(bad); ok {
			t.Errorf("ParseID(%q) accepted", bad)
		}
	}
}

func TestVerifyAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items, so allocation counts mean nothing")
	}
	kr := mustKeyring(t, Key{Secret: []byte("defaultencryptionkey")})
	for _, c := range []Claims{
		{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now},
		{TokenID: testTID, UserID: testUser, Username: "alice", ExpiresAt: now + 60, IssuedAt: now, StoreID: testStore},
	} {
		tok := kr.Sign(&c)
		kr.verify(tok, now) // warm the pool
		allocs := testing.AllocsPerRun(200, func() {
			if _, err := kr.verify(tok, now); err != nil {
				t.Fatal(err)
			}
		})
		// One allocation: the payload string the claims are substrings of. (A cache hit makes none;
		// TestCacheHit checks that.)
		if allocs > 1 {
			t.Errorf("verify(sid %q) allocates %.0f times per call, want at most 1", c.StoreID, allocs)
		}
	}
}
