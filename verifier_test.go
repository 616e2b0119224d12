package latchkey

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/verify/verifytest"
)

// sidecar is `latchkey verifier` running in this process, answering on url.
type sidecar struct {
	*serving
	url string
}

// startSidecar runs the verifier command with args on a free loopback port, the verifier key in the
// environment, and waits (bounded) until it listens; ready says whether to wait for /healthz 200 too.
func startSidecar(t *testing.T, ready bool, args ...string) *sidecar {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	status := 0
	if ready {
		status = http.StatusOK
	}
	environ := []string{verifierEnvKey + "=" + verifytest.VerifierKey}
	srv := startCommand(t, environ, "http://"+addr+"/healthz", status, append([]string{"verifier", "--listen", addr}, args...)...)
	return &sidecar{serving: srv, url: "http://" + addr}
}

// verify posts body to /verify and returns the status and the decoded answer.
func (s *sidecar) verify(t *testing.T, body string) (int, map[string]any) {
	t.Helper()
	res, err := http.Post(s.url+"/verify", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil {
		t.Fatalf("POST /verify answered %d with a body that is not JSON: %v", res.StatusCode, err)
	}
	return res.StatusCode, got
}

func (s *sidecar) ticket(t *testing.T, ticket string) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(map[string]string{"ticket": ticket})
	return s.verify(t, string(b))
}

func TestVerifierSidecar(t *testing.T) {
	node := verifytest.NewServer()
	defer node.Close()
	s := startSidecar(t, true, "--latchkey", node.URL, "--audience", "match-eu-1", "--issuer", "latchkey")

	exp := time.Now().Add(time.Minute)
	ticket := node.Mint(verifytest.Ticket{Audience: "match-eu-1", UserID: "u-1", Username: "ada", SessionID: "s-1",
		Vars: map[string]string{"tier": "gold"}, ExpiresAt: exp})
	status, got := s.ticket(t, ticket)
	want := map[string]any{"valid": true, "user_id": "u-1", "username": "ada", "session_id": "s-1",
		"vars": map[string]any{"tier": "gold"}, "expires_at": float64(exp.Unix())}
	if status != http.StatusOK || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("a valid ticket: %d %v, want 200 %v", status, got, want)
	}
	refusals := []struct {
		name, ticket, reason string
	}{
		{"replayed", ticket, "replayed"},
		{"audience", node.Mint(verifytest.Ticket{Audience: "match-us-1"}), "audience"},
		{"issuer", node.Mint(verifytest.Ticket{Audience: "match-eu-1", Issuer: "other"}), "issuer"},
		{"expired", node.Mint(verifytest.Ticket{Audience: "match-eu-1", IssuedAt: time.Now().Add(-time.Minute), ExpiresAt: time.Now().Add(-time.Second)}), "expired"},
		{"malformed", "not.a.ticket", "malformed"},
	}
	for _, r := range refusals {
		status, got := s.ticket(t, r.ticket)
		if status != http.StatusOK || got["valid"] != false || got["reason"] != r.reason || len(got) != 2 {
			t.Errorf("%s: %d %v, want 200 {valid false, reason %s}", r.name, status, got, r.reason)
		}
	}
	// A ticket without vars answers an empty object, so that a client can index it.
	if _, got := s.ticket(t, node.Mint(verifytest.Ticket{Audience: "match-eu-1"})); fmt.Sprint(got["vars"]) != "map[]" {
		t.Errorf("vars of a ticket without them: %v", got["vars"])
	}
	for _, body := range []string{``, `{}`, `{"ticket":1}`, `[]`, `{"ticket":"a"} {"ticket":"b"}`, `{"ticket":"` + strings.Repeat("a", 20000) + `"}`} {
		if status, got := s.verify(t, body); status != http.StatusBadRequest || got["reason"] != "bad_request" {
			t.Errorf("body %.30q: %d %v, want 400 bad_request", body, status, got)
		}
	}
	if res, err := http.Get(s.url + "/verify"); err != nil || res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /verify: %v %v, want 405", res.Status, err)
	}

	// A logout reaches the sidecar through the feed: the session's next tickets are refused. (The time it
	// takes is measured in internal/e2e; this bound, 500 tickets 10 ms apart, only keeps the loop finite.)
	session := make([]string, 500)
	for i := range session {
		session[i] = node.Mint(verifytest.Ticket{Audience: "match-eu-1", UserID: "u-2", SessionID: "s-2"})
	}
	node.RevokeSession("u-2", "s-2")
	refused := false
	for _, tk := range session {
		if _, got := s.ticket(t, tk); got["reason"] == "revoked" {
			refused = true
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !refused {
		t.Error("the sidecar admitted 500 tickets of a session ended before the first, over 5 s")
	}
	if code := s.stop(); code != 0 {
		t.Errorf("the verifier exited with %d on cancel", code)
	}
	if strings.Contains(s.stderr.String(), verifytest.VerifierKey) {
		t.Errorf("the log holds the verifier key:\n%s", s.stderr)
	}
}

func TestVerifierSidecarNotReady(t *testing.T) {
	node := verifytest.NewServer()
	defer node.Close()
	node.SetDown(true)
	s := startSidecar(t, false, "--latchkey", node.URL, "--audience", "match-eu-1")
	res, err := http.Get(s.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /healthz while the node is down: %d, want 503", res.StatusCode)
	}
	if status, got := s.ticket(t, node.Mint(verifytest.Ticket{Audience: "match-eu-1"})); status != http.StatusServiceUnavailable || got["reason"] != "not_ready" {
		t.Errorf("POST /verify while the node is down: %d %v, want 503 not_ready", status, got)
	}
}

func TestVerifierUsage(t *testing.T) {
	tests := []struct {
		args    []string
		environ []string
		want    string
	}{
		{[]string{"verifier"}, nil, "missing --latchkey, --audience, --verifier-key (or LATCHKEY_VERIFIER_KEY)"},
		{[]string{"verifier", "--latchkey", "http://127.0.0.1:1", "--audience", "a", "--verifier-key", "k", "--listen", "0.0.0.0:0"}, nil, "not a loopback address"},
		{[]string{"verifier", "--latchkey", "http://127.0.0.1:1", "--audience", "a", "--verifier-key", "k", "--listen", ":7360"}, nil, "not a loopback address"},
		{[]string{"verifier", "--latchkey", "ftp://x", "--audience", "a", "--verifier-key", "k"}, nil, "BaseURL"},
		{[]string{"verifier", "--nope"}, nil, "flag provided but not defined"},
		{[]string{"verifier", "--latchkey", "http://127.0.0.1:1", "extra"}, nil, `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		r := run(t, tt.environ, tt.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "Usage: latchkey verifier") {
			t.Errorf("latchkey %q = %d, stderr:\n%s\nwant 2 and %q with the usage", tt.args, r.code, r.stderr, tt.want)
		}
	}
}
