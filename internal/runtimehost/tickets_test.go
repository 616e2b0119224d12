package runtimehost_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/runtimehost"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/runtime"
)

// ticketModule registers an RPC that mints a ticket for its caller's session, as a matchmaker would.
func ticketModule(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, init runtime.Initializer) error {
	return init.RegisterRpc("join_ticket", func(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
		uid, _ := ctx.Value(runtime.RUNTIME_CTX_USER_ID).(string)
		sid, _ := ctx.Value(runtime.RUNTIME_CTX_SESSION_ID).(string)
		tk, err := nk.TicketMint(ctx, uid, sid, payload, 60, nil)
		if err != nil {
			return "", err
		}
		b, _ := json.Marshal(tk)
		return string(b), nil
	})
}

func TestTicketMintRedeem(t *testing.T) {
	cfg := servertest.Config(t)
	cfg.Tickets.Vars = []string{"client", "absent"}
	srv, url := servertest.Start(t, cfg, server.Options{Modules: []runtime.InitModule{ticketModule}})
	e := &env{t: t, url: url, srv: srv}
	nk, ctx := srv.Runtime.Module(), context.Background()
	tok := e.login("ticket-custom-id") // vars {"client": "x"}
	claims := servertest.Claims(t, tok)
	uid, sid := claims["uid"].(string), claims["tid"].(string)

	// From an RPC, for the caller's session.
	a := e.do("POST", "/v2/rpc/join_ticket?unwrap", "Bearer "+tok, "match-1")
	var tk runtime.Ticket
	if err := json.Unmarshal([]byte(a.Body), &tk); err != nil || tk.Token == "" {
		t.Fatalf("join_ticket: %d %s", a.Status, a.Body)
	}
	got, err := nk.TicketRedeem(ctx, tk.Token, "match-1")
	if err != nil {
		t.Fatalf("TicketRedeem: %v", err)
	}
	want := &runtime.TicketClaims{UserID: uid, Username: claims["usn"].(string), SessionID: sid, Audience: "match-1",
		ID: tk.ID, ExpiresAt: tk.ExpiresAt, IssuedAt: tk.ExpiresAt - 60, Vars: map[string]string{"client": "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TicketRedeem = %+v, want %+v", got, want)
	}
	if _, err := nk.TicketRedeem(ctx, tk.Token, "match-1"); !errors.Is(err, runtime.ErrTicketRedeemed) {
		t.Errorf("replayed TicketRedeem: %v, want ErrTicketRedeemed", err)
	}

	// Vars given replace the session's, still filtered by tickets.vars.
	other, err := nk.TicketMint(ctx, uid, sid, "match-2", 0, map[string]string{"client": "y", "unlisted": "z"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nk.TicketRedeem(ctx, other.Token, "match-1"); !errors.Is(err, runtime.ErrTicketWrongAudience) {
		t.Errorf("TicketRedeem for another audience: %v, want ErrTicketWrongAudience", err)
	}
	if c, err := nk.TicketRedeem(ctx, other.Token, "match-2"); err != nil || !reflect.DeepEqual(c.Vars, map[string]string{"client": "y"}) {
		t.Errorf("TicketRedeem with vars given = %+v, %v; want vars {client: y}", c, err)
	}
	if _, err := nk.TicketRedeem(ctx, "not.a.ticket", "match-2"); !errors.Is(err, runtime.ErrTokenMalformed) {
		t.Errorf("TicketRedeem of garbage: %v, want ErrTokenMalformed", err)
	}
	// A session token is not a ticket.
	if _, err := nk.TicketRedeem(ctx, tok, "match-2"); err == nil {
		t.Error("TicketRedeem accepted a session token")
	}

	for name, c := range map[string]struct {
		uid, sid, aud string
		ttl           int
		want          error
	}{
		"bad audience":      {uid, sid, "", 0, runtime.ErrTicketAudience},
		"ttl over the max":  {uid, sid, "m", cfg.Tickets.MaxTTLSec + 1, runtime.ErrTicketTTL},
		"negative ttl":      {uid, sid, "m", -1, runtime.ErrTicketTTL},
		"unknown session":   {uid, "0190c5a4-0000-7000-8000-000000000001", "m", 0, runtime.ErrSessionNotFound},
		"malformed user id": {"nope", sid, "m", 0, runtime.ErrUserIDInvalid},
	} {
		if _, err := nk.TicketMint(ctx, c.uid, c.sid, c.aud, c.ttl, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: TicketMint = %v, want %v", name, err, c.want)
		}
	}
	// Another user's session is not the user's.
	stranger := servertest.Claims(t, e.login("ticket-stranger-id"))["uid"].(string)
	if _, err := nk.TicketMint(ctx, stranger, sid, "m", 0, nil); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("TicketMint for another user's session: %v, want ErrSessionNotFound", err)
	}

	// A ticket minted before its session ended is refused after.
	late, err := nk.TicketMint(ctx, uid, sid, "match-3", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := e.do("POST", "/v2/session/logout", "Bearer "+tok, `{"token":"`+tok+`"}`); a.Status != 200 {
		t.Fatalf("logout: %d %s", a.Status, a.Body)
	}
	if _, err := nk.TicketRedeem(ctx, late.Token, "match-3"); !errors.Is(err, runtime.ErrSessionRevoked) {
		t.Errorf("TicketRedeem after logout: %v, want ErrSessionRevoked", err)
	}
	if _, err := nk.TicketMint(ctx, uid, sid, "match-3", 0, nil); !errors.Is(err, runtime.ErrSessionNotFound) {
		t.Errorf("TicketMint after logout: %v, want ErrSessionNotFound", err)
	}
}

// TestTicketsNotConfigured: a host without the tickets service answers the ticket functions with
// ErrTicketsNotConfigured.
func TestTicketsNotConfigured(t *testing.T) {
	nk := runtimehost.New(runtimehost.Deps{}).Module()
	if _, err := nk.TicketMint(context.Background(), "u", "s", "a", 0, nil); !errors.Is(err, runtime.ErrTicketsNotConfigured) {
		t.Errorf("TicketMint: %v, want ErrTicketsNotConfigured", err)
	}
	if _, err := nk.TicketRedeem(context.Background(), "t", "a"); !errors.Is(err, runtime.ErrTicketsNotConfigured) {
		t.Errorf("TicketRedeem: %v, want ErrTicketsNotConfigured", err)
	}
}
