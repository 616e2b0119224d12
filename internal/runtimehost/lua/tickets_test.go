package lua_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/servertest"
)

// ticketModule mints join tickets for its caller's session and redeems them.
const ticketModule = `
local nk = require("nakama")
nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  return nk.json_encode(nk.ticket_mint(context.user_id, context.session_id, p.audience, p.ttl_sec, p.vars))
end, "mint")
nk.register_rpc(function(context, payload)
  local p = nk.json_decode(payload)
  local ok, res = pcall(nk.ticket_redeem, p.token, p.audience)
  if not ok then return nk.json_encode({error = tostring(res)}) end
  return nk.json_encode(res)
end, "redeem")
`

func TestTickets(t *testing.T) {
	cfg := testConfig(t, 5000)
	cfg.Tickets.Vars = []string{"client"}
	srv, url := servertest.Start(t, cfg, modules(writeModules(t, map[string]string{"tickets.lua": ticketModule}), 4, nil))
	e := &env{t: t, url: url, srv: srv}
	tok := e.authenticate("ticket-device-0001") // vars {"client": "x"}
	claims := servertest.Claims(t, tok)
	rpc := func(id string, in, out any) {
		t.Helper()
		b, _ := json.Marshal(in)
		body, _ := json.Marshal(string(b))
		reflect.ValueOf(out).Elem().SetZero() // Unmarshal would merge into a map
		if err := json.Unmarshal([]byte(payload(t, e.do("POST", "/v2/rpc/"+id, "Bearer "+tok, string(body)))), out); err != nil {
			t.Fatal(err)
		}
	}

	var tk map[string]any
	rpc("mint", map[string]any{"audience": "match-1", "ttl_sec": 45}, &tk)
	token, _ := tk["token"].(string)
	exp, _ := tk["expires_at"].(float64)
	if token == "" || tk["id"] == nil || exp == 0 {
		t.Fatalf("ticket_mint = %v", tk)
	}
	var got map[string]any
	rpc("redeem", map[string]any{"token": token, "audience": "match-1"}, &got)
	want := map[string]any{"user_id": claims["uid"], "username": claims["usn"], "session_id": claims["tid"],
		"audience": "match-1", "id": tk["id"], "expires_at": exp, "issued_at": exp - 45, "vars": map[string]any{"client": "x"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ticket_redeem = %v\nwant %v", got, want)
	}
	rpc("redeem", map[string]any{"token": token, "audience": "match-1"}, &got)
	if msg, _ := got["error"].(string); !strings.HasSuffix(msg, ": ticket already redeemed") {
		t.Errorf("replayed ticket_redeem = %v, want the error ticket already redeemed", got)
	}
	rpc("mint", map[string]any{"audience": "match-2", "vars": map[string]string{"client": "lua", "other": "no"}}, &tk)
	rpc("redeem", map[string]any{"token": tk["token"], "audience": "match-2"}, &got)
	if !reflect.DeepEqual(got["vars"], map[string]any{"client": "lua"}) {
		t.Errorf("ticket_redeem of a ticket minted with vars = %v, want vars {client: lua}", got)
	}
	rpc("redeem", map[string]any{"token": tk["token"], "audience": "match-1"}, &got)
	if msg, _ := got["error"].(string); !strings.HasSuffix(msg, ": ticket is for another audience") {
		t.Errorf("ticket_redeem for another audience = %v", got)
	}
	if a := e.do("POST", "/v2/rpc/mint", "Bearer "+tok, `"{\"audience\":\"\"}"`); a.Status == 200 {
		t.Errorf("ticket_mint for an empty audience: %d %s", a.Status, a.Body)
	}
}
