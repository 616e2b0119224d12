package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/httpapi"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

// passHooks is server code with hooks that change nothing, which sends GET /v2/account through the
// Account message rather than the body the account cache keeps.
type passHooks struct{}

func (passHooks) Before(_ context.Context, _ string, req any) (any, error) { return req, nil }
func (passHooks) After(context.Context, string, any, any) error            { return nil }

// TestGetAccountBody: GET /v2/account answers, byte for byte, the Account message of the account as the
// store holds it (disable_time left out), encoded as Nakama does (no HTML escaping, wallet and metadata
// as JSON text): from the cached body or, with hooks, from the message; a miss and a hit alike; and
// right after the account changes.
func TestGetAccountBody(t *testing.T) {
	for _, tt := range []struct {
		name  string
		hooks httpapi.Hooks
	}{{"cached body", nil}, {"with hooks", passHooks{}}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, testConfig(t), func(o *server.Options) { o.Hooks = tt.hooks })
			s := e.authDevice("device-body-1", "?username=body", "")
			uid := claims(t, s.Token)["uid"].(string)
			if err := e.srv.Accounts.Link(t.Context(), uid, storage.IdentityEmail, "Body@Example.com", "password1"); err != nil {
				t.Fatal(err)
			}
			meta := `{"a": "<&>", "n": 1.50}`
			if err := e.srv.Accounts.UpdateAccount(t.Context(), uid, accounts.Profile{Metadata: &meta}); err != nil {
				t.Fatal(err)
			}
			want := func() string {
				t.Helper()
				u, err := e.srv.Accounts.AccountFresh(t.Context(), uid)
				if err != nil {
					t.Fatal(err)
				}
				acc := httpapi.AccountJSON(u)
				acc.DisableTime = ""
				var b bytes.Buffer
				enc := json.NewEncoder(&b)
				enc.SetEscapeHTML(false)
				if err := enc.Encode(acc); err != nil {
					t.Fatal(err)
				}
				return string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
			}
			check := func(when string) {
				t.Helper()
				r := e.do("GET", "/v2/account", "bearer:"+s.Token, "")
				r.wantOK(t)
				if w := want(); r.Raw != w {
					t.Errorf("%s: body\n%s\nwant\n%s", when, r.Raw, w)
				}
				for k, v := range map[string]string{"Content-Type": "application/json", "Cache-Control": "no-store, no-cache, must-revalidate", "Access-Control-Allow-Origin": "*"} {
					if got := r.Header.Get(k); got != v {
						t.Errorf("%s: %s = %q, want %q", when, k, got, v)
					}
				}
			}
			check("first read")
			check("second read")
			e.do("PUT", "/v2/account", "bearer:"+s.Token, `{"display_name":"<b>Body & Soul</b>","timezone":"Europe/Paris"}`).wantOK(t)
			check("after PUT /v2/account")
			check("read after that")
			if err := e.srv.Accounts.Link(t.Context(), uid, storage.IdentityDevice, "device-body-0", ""); err != nil {
				t.Fatal(err)
			}
			check("after linking a device")
		})
	}
}
