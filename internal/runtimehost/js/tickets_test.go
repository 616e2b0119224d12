package js_test

import (
	"reflect"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/runtimehost/js"
	"github.com/latchkeyhq/latchkey/internal/servertest"
)

// ticketModule mints join tickets for its caller's session and redeems them.
const ticketModule = `
function rpcMint(ctx, logger, nk, payload) {
	var p = JSON.parse(payload);
	return JSON.stringify(nk.ticketMint(ctx.userId, ctx.sessionId, p.audience, p.ttlSec, p.vars));
}
function rpcRedeem(ctx, logger, nk, payload) {
	var p = JSON.parse(payload);
	try {
		return JSON.stringify(nk.ticketRedeem(p.token, p.audience));
	} catch (e) {
		return JSON.stringify({error: e.message});
	}
}
function InitModule(ctx, logger, nk, initializer) {
	initializer.registerRpc("mint", rpcMint);
	initializer.registerRpc("redeem", rpcRedeem);
}
`

func TestTickets(t *testing.T) {
	cfg, opts := setup(t, ticketModule, js.Config{MinCount: 1, MaxCount: 1}, 5000)
	cfg.Tickets.Vars = []string{"client"}
	srv, url := servertest.Start(t, cfg, opts)
	e := &env{t: t, url: url, srv: srv}
	tok := e.login("ticket-custom-id", map[string]string{"client": "x"})
	claims := servertest.Claims(t, tok)

	var tk struct {
		Token     string `json:"token"`
		ID        string `json:"id"`
		ExpiresAt int64  `json:"expiresAt"`
	}
	e.rpcJSON("mint", tok, `{"audience":"match-1","ttlSec":45}`, &tk)
	if tk.Token == "" || tk.ID == "" || tk.ExpiresAt == 0 {
		t.Fatalf("ticketMint = %+v", tk)
	}
	var got map[string]any
	e.rpcJSON("redeem", tok, `{"token":"`+tk.Token+`","audience":"match-1"}`, &got)
	want := map[string]any{"userId": claims["uid"], "username": claims["usn"], "sessionId": claims["tid"],
		"audience": "match-1", "id": tk.ID, "expiresAt": float64(tk.ExpiresAt), "issuedAt": float64(tk.ExpiresAt - 45),
		"vars": map[string]any{"client": "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ticketRedeem = %v\nwant %v", got, want)
	}
	got = nil // Unmarshal would merge into the map
	e.rpcJSON("redeem", tok, `{"token":"`+tk.Token+`","audience":"match-1"}`, &got)
	if got["error"] != "ticket already redeemed" {
		t.Errorf("replayed ticketRedeem = %v, want the error ticket already redeemed", got)
	}

	// Vars given replace the session's.
	e.rpcJSON("mint", tok, `{"audience":"match-2","vars":{"client":"js"}}`, &tk)
	got = nil
	e.rpcJSON("redeem", tok, `{"token":"`+tk.Token+`","audience":"match-2"}`, &got)
	if v, _ := got["vars"].(map[string]any); v["client"] != "js" {
		t.Errorf("ticketRedeem of a ticket minted with vars = %v, want vars {client: js}", got)
	}

	// Bad arguments are the caller's error.
	if a := e.rpc("mint", tok, `{"audience":""}`); a.Status == 200 {
		t.Errorf("ticketMint for an empty audience: %d %s", a.Status, a.Body)
	}
	if a := e.rpc("mint", tok, `{"audience":"m","ttlSec":"ten"}`); a.Status == 200 {
		t.Errorf("ticketMint with a string ttl: %d %s", a.Status, a.Body)
	}
}
