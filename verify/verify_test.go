package verify_test

import (
	"context"
	"encoding/base64"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/verify"
	"github.com/latchkeyhq/latchkey/verify/verifytest"
)

const audience = "match-eu-1"

// start returns a ready Verifier following node, with cfg's other fields as given. It is stopped at cleanup.
func start(t testing.TB, node *verifytest.Server, cfg verify.Config) *verify.Verifier {
	t.Helper()
	cfg.BaseURL, cfg.VerifierKey = node.URL, verifytest.VerifierKey
	if cfg.Audience == "" {
		cfg.Audience = audience
	}
	v, err := verify.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if err := v.Start(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := v.WaitReady(wctx); err != nil {
		t.Fatalf("not ready within 10 s: %v", err)
	}
	return v
}

func newNode(t testing.TB) *verifytest.Server {
	node := verifytest.NewServer()
	t.Cleanup(node.Close)
	return node
}

// eventually polls cond every millisecond until it holds, failing the test after 10 s; it returns how long
// it took.
func eventually(t *testing.T, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%s: not within 10 s", what)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

func TestVerifyOnce(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			node := newNode(t)
			node.AddKey(alg)
			v := start(t, node, verify.Config{Issuer: "latchkey"})
			exp := time.Now().Add(time.Minute).Truncate(time.Second)
			want := verifytest.Ticket{
				UserID: "8f0a0b9e-9c1e-4a55-9a47-3f2f2d0c4a11", Username: "ada", SessionID: "0d1e2f30-4150-4617-8293-a4b5c6d7e8f9",
				Audience: audience, Generation: 3, Vars: map[string]string{"region": "eu"}, ExpiresAt: exp,
			}
			ticket := node.Mint(want)
			got, err := v.Verify(ticket)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.UserID != want.UserID || got.Username != "ada" || got.SessionID != want.SessionID || got.Generation != 3 ||
				got.Audience != audience || got.Issuer != "latchkey" || got.Vars["region"] != "eu" || len(got.Vars) != 1 ||
				!got.ExpiresAt.Equal(exp) || len(got.ID) != 36 || got.ID[14] != '7' {
				t.Errorf("claims %+v, want those of %+v with a UUID v7 id", got, want)
			}
			if _, err := v.Verify(ticket); !errors.Is(err, verify.ErrReplayed) || verify.Reason(err) != "replayed" {
				t.Errorf("second Verify: %v, want ErrReplayed", err)
			}
			// Another ticket of the same session is a ticket of its own.
			if _, err := v.Verify(node.Mint(want)); err != nil {
				t.Errorf("a second ticket of the session: %v", err)
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	node := newNode(t)
	edKid := node.AddKey("EdDSA")
	ecKid := node.AddKey("ES256")
	hidden := node.AddUnpublishedKey("EdDSA")
	v := start(t, node, verify.Config{Issuer: "latchkey"})
	now := time.Now()
	mint := func(mod func(*verifytest.Ticket)) string {
		tk := verifytest.Ticket{Audience: audience, KeyID: edKid}
		if mod != nil {
			mod(&tk)
		}
		return node.Mint(tk)
	}
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{
			"iss": "latchkey", "sub": "8f0a0b9e-9c1e-4a55-9a47-3f2f2d0c4a11", "aud": audience, "iat": now.Unix(),
			"exp": now.Add(time.Minute).Unix(), "jti": "01890a5d-ac96-774b-bcce-b302099a8057", "sid": "s-1", "usn": "ada",
			"typ": "latchkey-ticket",
		}
		if mod != nil {
			mod(c)
		}
		return c
	}
	hdr := func(alg, kid string) map[string]string {
		return map[string]string{"alg": alg, "kid": kid, "typ": "JWT"}
	}
	good := mint(nil)
	parts := strings.Split(good, ".")
	other := strings.Split(mint(func(tk *verifytest.Ticket) { tk.Username = "eve" }), ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[3] ^= 1
	flip := base64.RawURLEncoding.EncodeToString(sig)
	tests := []struct {
		name   string
		ticket string
		want   error
	}{
		{"wrong audience", mint(func(tk *verifytest.Ticket) { tk.Audience = "match-us-1" }), verify.ErrAudience},
		{"audience prefix", mint(func(tk *verifytest.Ticket) { tk.Audience = audience + "x" }), verify.ErrAudience},
		{"wrong issuer", mint(func(tk *verifytest.Ticket) { tk.Issuer = "someone-else" }), verify.ErrIssuer},
		{"expired", mint(func(tk *verifytest.Ticket) { tk.IssuedAt, tk.ExpiresAt = now.Add(-time.Minute), now.Add(-time.Second) }), verify.ErrExpired},
		{"issued in the future", mint(func(tk *verifytest.Ticket) { tk.IssuedAt = now.Add(time.Minute) }), verify.ErrNotYet},
		{"payload of another ticket", parts[0] + "." + other[1] + "." + parts[2], verify.ErrSignature},
		{"signature bit flipped", parts[0] + "." + parts[1] + "." + flip, verify.ErrSignature},
		{"signature cut", parts[0] + "." + parts[1] + "." + parts[2][:40], verify.ErrSignature},
		{"ES256 header on an EdDSA key", node.Sign(edKid, hdr("ES256", edKid), claims(nil)), verify.ErrSignature},
		{"EdDSA header on an ES256 key", node.Sign(ecKid, hdr("EdDSA", ecKid), claims(nil)), verify.ErrSignature},
		{"alg none", node.Sign(edKid, hdr("none", edKid), claims(nil)), verify.ErrMalformed},
		{"alg none unsigned", b64(`{"alg":"none","kid":"`+edKid+`"}`) + "." + parts[1] + ".", verify.ErrMalformed},
		{"alg HS256", node.Sign(edKid, hdr("HS256", edKid), claims(nil)), verify.ErrMalformed},
		{"alg lowercase", node.Sign(edKid, hdr("eddsa", edKid), claims(nil)), verify.ErrMalformed},
		{"unpublished kid", mint(func(tk *verifytest.Ticket) { tk.KeyID = hidden }), verify.ErrUnknownKey},
		{"no kid", node.Sign(edKid, map[string]string{"alg": "EdDSA"}, claims(nil)), verify.ErrMalformed},
		{"crit header", node.Sign(edKid, map[string]any{"alg": "EdDSA", "kid": edKid, "crit": []string{"exp"}}, claims(nil)), verify.ErrMalformed},
		{"header typ not JWT", node.Sign(edKid, map[string]string{"alg": "EdDSA", "kid": edKid, "typ": "at+jwt"}, claims(nil)), verify.ErrMalformed},
		{"typ claim missing", node.Sign(edKid, hdr("EdDSA", edKid), claims(func(c map[string]any) { delete(c, "typ") })), verify.ErrMalformed},
		{"typ claim of another token", node.Sign(edKid, hdr("EdDSA", edKid), claims(func(c map[string]any) { c["typ"] = "session" })), verify.ErrMalformed},
		{"aud as a list", node.Sign(edKid, hdr("EdDSA", edKid), claims(func(c map[string]any) { c["aud"] = []string{audience} })), verify.ErrMalformed},
		{"jti not a UUID", node.Sign(edKid, hdr("EdDSA", edKid), claims(func(c map[string]any) { c["jti"] = "ticket-1" })), verify.ErrMalformed},
		{"no sid", node.Sign(edKid, hdr("EdDSA", edKid), claims(func(c map[string]any) { delete(c, "sid") })), verify.ErrMalformed},
		{"no exp", node.Sign(edKid, hdr("EdDSA", edKid), claims(func(c map[string]any) { delete(c, "exp") })), verify.ErrMalformed},
		{"exp not an integer", node.Sign(edKid, hdr("EdDSA", edKid), claims(func(c map[string]any) { c["exp"] = 1e12 + 0.5 })), verify.ErrMalformed},
		{"negative gen", node.Sign(edKid, hdr("EdDSA", edKid), claims(func(c map[string]any) { c["gen"] = -1 })), verify.ErrMalformed},
		{"two parts", parts[0] + "." + parts[1], verify.ErrMalformed},
		{"four parts", good + "." + parts[2], verify.ErrMalformed},
		{"padded", parts[0] + "." + parts[1] + "." + parts[2] + "==", verify.ErrMalformed},
		{"standard base64", urlSpecific(t, mint), verify.ErrMalformed},
		{"empty", "", verify.ErrMalformed},
		{"too long", good + strings.Repeat("A", 8192), verify.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := v.Verify(tt.ticket)
			if !errors.Is(err, tt.want) || got != nil {
				t.Errorf("Verify: %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	// None of them used up the good ticket, which is accepted once after all that.
	if _, err := v.Verify(good); err != nil {
		t.Errorf("the good ticket: %v", err)
	}
}

// urlSpecific returns a ticket in standard base64 instead of base64url, minting until one differs.
func urlSpecific(t *testing.T, mint func(func(*verifytest.Ticket)) string) string {
	for range 1000 {
		if tk := mint(nil); strings.ContainsAny(tk, "-_") {
			return strings.NewReplacer("-", "+", "_", "/").Replace(tk)
		}
	}
	t.Fatal("1000 tickets without - or _")
	return ""
}

func TestUnknownKidFetchesKeysOnce(t *testing.T) {
	node := newNode(t)
	v := start(t, node, verify.Config{})
	before := node.JWKSFetches()
	k2 := node.AddUnpublishedKey("EdDSA")
	if _, err := v.Verify(node.Mint(verifytest.Ticket{Audience: audience, KeyID: k2})); !errors.Is(err, verify.ErrUnknownKey) {
		t.Fatalf("unknown kid: %v, want ErrUnknownKey", err)
	}
	if got := node.JWKSFetches(); got != before+1 {
		t.Fatalf("the unknown kid caused %d fetches, want 1", got-before)
	}
	// Made-up kids within KeysMinInterval (10 s by default) cause no more fetches.
	for range 20 {
		v.Verify(node.Mint(verifytest.Ticket{Audience: audience, KeyID: node.AddUnpublishedKey("EdDSA")}))
	}
	if got := node.JWKSFetches(); got != before+1 {
		t.Errorf("20 more unknown kids caused %d more fetches, want none", got-before-1)
	}
}

func TestKeyRotation(t *testing.T) {
	node := newNode(t)
	old := node.AddKey("EdDSA")
	v := start(t, node, verify.Config{KeysInterval: 50 * time.Millisecond, KeysMinInterval: time.Hour})
	oldTicket := func() string { return node.Mint(verifytest.Ticket{Audience: audience, KeyID: old}) }

	// A new key is published and signs at once: its first ticket makes the verifier fetch the keys.
	node.AddKey("ES256")
	if _, err := v.Verify(node.Mint(verifytest.Ticket{Audience: audience})); err != nil {
		t.Fatalf("a ticket of the new key: %v", err)
	}
	// The old key still verifies the tickets it signed until the node stops publishing it.
	if _, err := v.Verify(oldTicket()); err != nil {
		t.Fatalf("a ticket of the old key while it is published: %v", err)
	}
	node.RemoveKey(old)
	n := node.JWKSFetches()
	eventually(t, "two periodic fetches", func() bool { return node.JWKSFetches() >= n+2 })
	if _, err := v.Verify(oldTicket()); !errors.Is(err, verify.ErrUnknownKey) {
		t.Errorf("a ticket of the removed key: %v, want ErrUnknownKey", err)
	}
	if _, err := v.Verify(node.Mint(verifytest.Ticket{Audience: audience})); err != nil {
		t.Errorf("a ticket of the new key after the rotation: %v", err)
	}
}

// TestRevocationReachesVerify publishes a session's end while the verifier's long poll waits, and checks
// that the waiting request delivered it: no new poll was needed, so it reaches Verify as soon as the node
// answers. The time it took is logged (the bound is measured in internal/e2e and BenchmarkFeedPropagation).
func TestRevocationReachesVerify(t *testing.T) {
	node := newNode(t)
	v := start(t, node, verify.Config{})
	user, session := "2b7d1c3e-0000-4000-8000-000000000001", "5e6f7a8b-0000-4000-8000-000000000002"
	tickets := make([]string, 3)
	for i := range tickets {
		tickets[i] = node.Mint(verifytest.Ticket{Audience: audience, UserID: user, SessionID: session})
	}
	otherSession := node.Mint(verifytest.Ticket{Audience: audience, UserID: user})
	if _, err := v.Verify(tickets[0]); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a waiting feed request", func() bool { return node.Waiting() == 1 })
	seq := node.RevokeSession(user, session)
	took := eventually(t, "the revocation", func() bool { return v.Ended(&verify.Claims{UserID: user, SessionID: session}) })
	t.Logf("the revocation reached the verifier %v after it was published", took)
	for _, tk := range tickets[1:] {
		if _, err := v.Verify(tk); !errors.Is(err, verify.ErrRevoked) {
			t.Errorf("a ticket of the ended session: %v, want ErrRevoked", err)
		}
	}
	if _, err := v.Verify(otherSession); err != nil {
		t.Errorf("a ticket of another session of the user: %v", err)
	}
	var delivered *verifytest.Poll
	for _, p := range node.Polls() {
		if len(p.Seqs) > 0 && p.Seqs[0] == seq {
			delivered = &p
		}
	}
	if delivered == nil || !delivered.Waited {
		t.Errorf("entry %d was delivered by %+v, want a request that was waiting for it", seq, delivered)
	}
}

func TestAccountCut(t *testing.T) {
	node := newNode(t)
	v := start(t, node, verify.Config{})
	user, other := "3c8e2d4f-0000-4000-8000-000000000001", "3c8e2d4f-0000-4000-8000-000000000002"
	mint := func(userID, session string, gen int64) string {
		return node.Mint(verifytest.Ticket{Audience: audience, UserID: userID, SessionID: session, Generation: gen})
	}
	ended := []string{mint(user, "gen0", 0), mint(user, "gen1-a", 1), mint(user, "gen1-a", 1)}
	spared := []string{
		mint(user, "gen1-kept", 1),  // the session the cut keeps
		mint(user, "gen2", 2),       // created at the cut's generation: after it
		mint(user, "gen3", 3),       // and later
		mint(other, "gen1-a", 1),    // another user's session, even with a same-named session id
		mint(other, "gen1-kept", 0), // and of an earlier generation
	}
	node.CutAccount(user, 2, "gen1-kept")
	eventually(t, "the cut", func() bool { return v.Ended(&verify.Claims{UserID: user, SessionID: "gen1-a", Generation: 1}) })
	for i, tk := range ended {
		if _, err := v.Verify(tk); !errors.Is(err, verify.ErrRevoked) {
			t.Errorf("ended[%d]: %v, want ErrRevoked", i, err)
		}
	}
	for i, tk := range spared {
		if _, err := v.Verify(tk); err != nil {
			t.Errorf("spared[%d]: %v", i, err)
		}
	}
}

// TestCatchUpAtStart starts a verifier on a feed with more entries than one page: when it says it is
// ready, it holds every one of them.
func TestCatchUpAtStart(t *testing.T) {
	node := newNode(t)
	const n = 2500 // the verifier asks for 1000 a page
	for i := range n {
		node.RevokeSession("u", "s-"+strconv.Itoa(i))
	}
	v := start(t, node, verify.Config{})
	for _, i := range []int{0, 999, 1000, n - 1} {
		if !v.Ended(&verify.Claims{UserID: "u", SessionID: "s-" + strconv.Itoa(i)}) {
			t.Errorf("entry %d is not held when the verifier is ready", i)
		}
	}
	if v.Ended(&verify.Claims{UserID: "u", SessionID: "s-other"}) {
		t.Error("a session no entry names is ended")
	}
}

// TestFeedOutage takes the node down after the verifier caught up, appends entries meanwhile, and brings
// it back: the verifier resumes after the last entry it had and loses none, and verifies offline all along.
func TestFeedOutage(t *testing.T) {
	node := newNode(t)
	logger, logs := fileLog(t)
	v := start(t, node, verify.Config{Logger: logger})
	node.RevokeSession("u", "before")
	eventually(t, "the first entry", func() bool { return v.Ended(&verify.Claims{UserID: "u", SessionID: "before"}) })

	node.SetDown(true)
	node.RevokeSession("u", "during-1")
	node.CutAccount("cut-user", 5, "")
	node.RevokeSession("u", "during-2")
	eventually(t, "a failed feed request", func() bool { return strings.Contains(logs(), "reading the revocation feed failed") })
	if _, err := v.Verify(node.Mint(verifytest.Ticket{Audience: audience})); err != nil {
		t.Errorf("a ticket while the node is down: %v", err)
	}
	node.SetDown(false)
	for _, c := range []verify.Claims{{UserID: "u", SessionID: "during-1"}, {UserID: "cut-user", SessionID: "x", Generation: 4}, {UserID: "u", SessionID: "during-2"}} {
		eventually(t, "entry "+c.SessionID+" after the outage", func() bool { return v.Ended(&c) })
	}
	if !v.Ended(&verify.Claims{UserID: "u", SessionID: "before"}) {
		t.Error("the entry from before the outage was lost")
	}
	if strings.Contains(logs(), verifytest.VerifierKey) {
		t.Error("the log holds the verifier key")
	}
}

func TestNotReadyUntilTheNodeAnswers(t *testing.T) {
	node := newNode(t)
	ticket := node.Mint(verifytest.Ticket{Audience: audience})
	node.SetDown(true)
	logger, logs := fileLog(t)
	v, err := verify.New(verify.Config{BaseURL: node.URL, VerifierKey: verifytest.VerifierKey, Audience: audience, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ticket); !errors.Is(err, verify.ErrNotReady) {
		t.Fatalf("before Start: %v, want ErrNotReady", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v.Start(ctx)
	eventually(t, "failed requests", func() bool {
		l := logs()
		return strings.Contains(l, "fetching the ticket keys failed") && strings.Contains(l, "reading the revocation feed failed")
	})
	if v.Ready() {
		t.Fatal("ready while the node is down")
	}
	if _, err := v.Verify(ticket); !errors.Is(err, verify.ErrNotReady) {
		t.Fatalf("while the node is down: %v, want ErrNotReady", err)
	}
	node.SetDown(false)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := v.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(ticket); err != nil {
		t.Errorf("once ready: %v", err)
	}
	if err := v.Start(ctx); err == nil {
		t.Error("a second Start succeeded")
	}
}

func TestWrongVerifierKeyIsLoggedWithoutTheKey(t *testing.T) {
	node := newNode(t)
	logger, logs := fileLog(t)
	const key = "not-the-verifier-key-0123456789"
	v, err := verify.New(verify.Config{BaseURL: node.URL, VerifierKey: key, Audience: audience, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	v.Start(ctx)
	eventually(t, "the 401 in the log", func() bool { return strings.Contains(logs(), "401") })
	if v.Ready() {
		t.Error("ready without the feed")
	}
	if strings.Contains(logs(), key) {
		t.Errorf("the log holds the verifier key:\n%s", logs())
	}
}

func TestNewReportsEveryProblem(t *testing.T) {
	_, err := verify.New(verify.Config{BaseURL: "ftp://x", Audience: strings.Repeat("a", 129)})
	if err == nil {
		t.Fatal("New accepted a bad config")
	}
	for _, want := range []string{"BaseURL", "VerifierKey", "Audience"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if _, err := verify.New(verify.Config{BaseURL: "https://auth.example.com/latchkey/", VerifierKey: "k", Audience: "a"}); err != nil {
		t.Errorf("a good config: %v", err)
	}
}

func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// fileLog returns a logger writing to a file of the test, and a function that reads what it wrote so far
// (the verifier logs from its own goroutines).
func fileLog(t *testing.T) (*slog.Logger, func() string) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return slog.New(slog.NewTextHandler(f, nil)), func() string {
		b, _ := os.ReadFile(path)
		return string(b)
	}
}
