package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// e2eVerifierKey is the verifier key (tickets.verifier_keys) of the nodes of these tests.
const e2eVerifierKey = "e2e-verifier-key-0123456789abcdef"

// ticketAudience is the audience of the game server these tests stand in for.
const ticketAudience = "game-eu-1"

// TestTicketsVerifiedElsewhere mints join tickets on the real server and verifies them in another
// process, `latchkey verifier` (package verify behind HTTP): a ticket is valid once, and the tickets of a
// session logged out, or of an account logged out everywhere, are refused within revocationBound. On
// SQLite with one node, and on PostgreSQL with two, the verifier following node A while tickets are
// minted and sessions ended on node B.
func TestTicketsVerifiedElsewhere(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		a := startNode(t, "node-a", "--tickets.verifier_keys", e2eVerifierKey)
		skipWithoutTickets(t, a)
		ticketRounds(t, a, a)
	})
	t.Run("PostgreSQL two nodes", func(t *testing.T) {
		db := pgtest.NewDatabase(t)
		a := startNode(t, "node-a", "--database.address", db, "--tickets.verifier_keys", e2eVerifierKey)
		skipWithoutTickets(t, a)
		b := startNode(t, "node-b", "--database.address", db, "--tickets.verifier_keys", e2eVerifierKey)
		ticketRounds(t, a, b)
	})
}

// skipWithoutTickets skips the test when n has no tickets (it answers 404 on its JWKS), unless
// LATCHKEY_TEST_TICKETS_REQUIRED is set (scripts/test sets it).
func skipWithoutTickets(t *testing.T, n *node) {
	t.Helper()
	r := n.must("GET", "/.well-known/jwks.json", "", "")
	if r.Status == http.StatusNotFound && os.Getenv("LATCHKEY_TEST_TICKETS_REQUIRED") == "" {
		t.Skip("the server has no join tickets (GET /.well-known/jwks.json answers 404); LATCHKEY_TEST_TICKETS_REQUIRED=1 makes this an error")
	}
	if keys, _ := r.Body["keys"].([]any); r.Status != http.StatusOK || len(keys) == 0 {
		t.Fatalf("GET /.well-known/jwks.json: %d %s, want 200 with keys", r.Status, r.Raw)
	}
}

// ticketRounds logs a player in on follow (whose feed the verifier follows), mints tickets on act, checks
// them in a verifier process, and ends sessions on act.
func ticketRounds(t *testing.T, follow, act *node) {
	v := startVerifier(t, follow)

	// A ticket is valid once, with the player's claims.
	s := follow.must("POST", "/v2/account/authenticate/device?username=ticket-player", "basic", `{"id":"ticket-e2e-device-1"}`).pair(t)
	account := follow.must("GET", "/v2/account", "bearer:"+s.Token, "")
	user, _ := account.Body["user"].(map[string]any)
	ticket, expires := mintTicket(t, act, s.Token, ticketAudience)
	got := v.verify(t, ticket)
	if got["valid"] != true || got["user_id"] != user["id"] || got["username"] != "ticket-player" ||
		got["session_id"] != tokenID(t, s.Token) || got["expires_at"] != expires {
		t.Fatalf("the verifier answered %v for the ticket of user %v, session %s, expiring at %v", got, user["id"], tokenID(t, s.Token), expires)
	}
	if got := v.verify(t, ticket); got["valid"] != false || got["reason"] != "replayed" {
		t.Fatalf("the same ticket again: %v, want reason replayed", got)
	}
	other, _ := mintTicket(t, act, s.Token, "another-game")
	if got := v.verify(t, other); got["reason"] != "audience" {
		t.Errorf("a ticket for another audience: %v, want reason audience", got)
	}

	// Tickets minted before a logout are refused within the bound after it.
	pending := mintTickets(t, act, s.Token, 50)
	act.must("POST", "/v2/session/logout", "bearer:"+s.Token, `{"token":"`+s.Token+`","refresh_token":"`+s.Refresh+`"}`).wantStatus(t, http.StatusOK)
	logout := v.refusedAfter(t, pending, time.Now())

	// Logging out everywhere (an account cut) ends the tickets of every session of the account.
	s1 := follow.must("POST", "/v2/account/authenticate/device", "basic", `{"id":"ticket-e2e-device-2"}`).pair(t)
	s2 := act.must("POST", "/v2/account/authenticate/device", "basic", `{"id":"ticket-e2e-device-2"}`).pair(t)
	pending = mintTickets(t, act, s1.Token, 50)
	last := mintTickets(t, act, s2.Token, 1)
	if got := v.verify(t, pending[0]); got["valid"] != true {
		t.Fatalf("a ticket of a live session: %v", got)
	}
	act.must("POST", "/v2/session/logout", "bearer:"+s2.Token, `{}`).wantStatus(t, http.StatusOK)
	everywhere := v.refusedAfter(t, pending[1:], time.Now())
	if got := v.verify(t, last[0]); got["reason"] != "revoked" {
		t.Errorf("a ticket of the session that logged out everywhere: %v, want reason revoked", got)
	}
	t.Logf("tickets still accepted after the logout: %v; after logging out everywhere: %v (bound %v)",
		logout.Round(time.Microsecond), everywhere.Round(time.Microsecond), revocationBound)
}

// mintTicket asks n for a ticket for audience with a session token, and returns it with its expires_at.
func mintTicket(t *testing.T, n *node, token, audience string) (string, any) {
	t.Helper()
	r := n.must("POST", "/v2/session/ticket", "bearer:"+token, `{"audience":"`+audience+`"}`)
	ticket, _ := r.Body["ticket"].(string)
	if r.Status != http.StatusOK || strings.Count(ticket, ".") != 2 || r.Body["expires_at"] == nil || r.Body["id"] == nil {
		t.Fatalf("POST /v2/session/ticket on %s: %d %s", n.name, r.Status, r.Raw)
	}
	return ticket, r.Body["expires_at"]
}

func mintTickets(t *testing.T, n *node, token string, count int) []string {
	t.Helper()
	tickets := make([]string, count)
	for i := range tickets {
		tickets[i], _ = mintTicket(t, n, token, ticketAudience)
	}
	return tickets
}

// tokenID returns the tid claim (the session id) of a session token.
func tokenID(t *testing.T, token string) string {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("a session token of %d parts", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct {
		TID string `json:"tid"`
	}
	if err != nil || json.Unmarshal(payload, &claims) != nil || claims.TID == "" {
		t.Fatalf("a session token without a tid: %s", payload)
	}
	return claims.TID
}

// verifierProcess is a `latchkey verifier` process.
type verifierProcess struct {
	url string
}

// startVerifier starts `latchkey verifier` following n, with the verifier key in its environment, and waits
// (bounded) until its /healthz answers 200. It is stopped at cleanup, and its log printed if the test failed.
func startVerifier(t *testing.T, n *node) *verifierProcess {
	t.Helper()
	port := freePort(t)
	cmd := exec.Command(binary(t), "verifier", "--latchkey", n.url, "--audience", ticketAudience, "--issuer", "latchkey",
		"--listen", fmt.Sprintf("127.0.0.1:%d", port))
	var out bytes.Buffer
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = lockedWriter{&mu, &out}, lockedWriter{&mu, &out}
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LATCHKEY_VERIFIER_KEY=" + e2eVerifierKey}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("the verifier did not stop within 10 s of SIGTERM")
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Contains(out.String(), e2eVerifierKey) {
			t.Error("the verifier's log holds the verifier key")
		}
		if t.Failed() {
			t.Logf("----- verifier log -----\n%s", out.String())
		}
	})
	v := &verifierProcess{url: fmt.Sprintf("http://127.0.0.1:%d", port)}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		select {
		case <-done:
			t.Fatal("the verifier exited during start")
		default:
		}
		if res, err := httpClient.Get(v.url + "/healthz"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return v
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the verifier was not ready within 20 s")
		}
	}
}

// verify asks the verifier about a ticket and returns its answer.
func (v *verifierProcess) verify(t *testing.T, ticket string) map[string]any {
	t.Helper()
	got, err := v.call(context.Background(), ticket)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func (v *verifierProcess) call(ctx context.Context, ticket string) (map[string]any, error) {
	body, _ := json.Marshal(map[string]string{"ticket": ticket})
	req, err := http.NewRequestWithContext(ctx, "POST", v.url+"/verify", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	res, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var got map[string]any
	if err := json.NewDecoder(res.Body).Decode(&got); err != nil || res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("POST /verify: %d, %v", res.StatusCode, err)
	}
	return got, nil
}

// refusedAfter presents the tickets (of sessions ended at start) one by one until the verifier refuses
// one as revoked, and returns how long after start that request was sent: the ones sent before were
// admitted. It fails the test past revocationBound, or when every ticket was admitted; it gives up after
// 10 s, so the loop is bounded.
func (v *verifierProcess) refusedAfter(t *testing.T, tickets []string, start time.Time) time.Duration {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i, tk := range tickets {
		sent := time.Now()
		got, err := v.call(ctx, tk)
		if err != nil {
			t.Fatalf("after %d tickets: %v", i, err)
		}
		switch {
		case got["reason"] == "revoked":
			d := max(0, sent.Sub(start))
			if d > revocationBound {
				t.Errorf("the verifier admitted tickets of an ended session for %v, bound %v", d, revocationBound)
			}
			return d
		case got["valid"] != true:
			t.Fatalf("ticket %d: %v, want valid or reason revoked", i, got)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the verifier admitted all %d tickets of an ended session, over %v", len(tickets), time.Since(start))
	return 0
}
