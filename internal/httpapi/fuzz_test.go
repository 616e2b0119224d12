package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/latchkeyhq/latchkey/api"
)

// fuzzRoutes are the endpoints that decode a request body. Bearer routes get a fresh session for every
// input, so that an input that logs out or renames does not change what the next input meets.
var fuzzRoutes = []struct {
	method, path string
	bearer       bool
}{
	{"POST", "/v2/account/authenticate/device?create=true", false},
	{"POST", "/v2/account/authenticate/email?create=true", false},
	{"POST", "/v2/account/authenticate/custom?create=true&username=fuzzer", false},
	{"POST", "/v2/account/session/refresh", false},
	{"POST", "/v2/session/logout", true},
	{"PUT", "/v2/account", true},
}

// FuzzRequestBodies sends arbitrary bodies to every endpoint that decodes one, through the real handler on
// a real SQLite file. Whatever the body, the answer is a 2xx or a 4xx (never a 5xx, which is also what a
// panic becomes), it is JSON, and an error carries Nakama's {code, message} with the status that code maps to.
func FuzzRequestBodies(f *testing.F) {
	for i := range fuzzRoutes {
		for _, body := range []string{
			``, `{}`, `null`, `[]`, `"x"`, `{"id":"fuzz-device-0001"}`, `{"id":12}`,
			`{"email":"a@b.co","password":"password1"}`, `{"username":"someone","password":"password1"}`,
			`{"id":"fuzz-custom-1","vars":{"a":"b"}}`, `{"id":"fuzz-device-0001","vars":{"a":1}}`,
			`{"token":"a.b.c","vars":{}}`, `{"token":null,"refreshToken":"x"}`,
			`{"displayName":"Zoë","display_name":"Zoe","avatar_url":"https://x/y.png","langTag":"fr"}`,
			`{"username":""}`, `{"username":"has space"}`, `{"location":{"x":1}}`,
			`{"id":"fuzz-device-0001"`, `{"id":"\ud800"}`, "{\"id\":\"\x00\x01\x02\"}", `{"a":` + `[[[[[[[[[[` + `]]]]]]]]]]}`,
		} {
			f.Add(uint8(i), body)
		}
	}
	cfg := testConfig(f)
	limitsOff(&cfg) // the abuse limits would answer most of a fuzzing run with 429, before any decoding
	e := newEnv(f, cfg)
	f.Fuzz(func(t *testing.T, route uint8, body string) {
		rt := fuzzRoutes[int(route)%len(fuzzRoutes)]
		e := e.with(t)
		auth := "basic"
		if rt.bearer {
			auth = "bearer:" + e.authDevice("fuzz-bearer-device", "", "").Token
		}
		r := e.do(rt.method, rt.path, auth, body)
		if r.Status >= 500 {
			t.Fatalf("%s %s with %q: status %d, body %s", rt.method, rt.path, body, r.Status, r.Raw)
		}
		if r.Body == nil {
			t.Fatalf("%s %s with %q: status %d with a body that is not a JSON object: %q", rt.method, rt.path, body, r.Status, r.Raw)
		}
		if r.Status == http.StatusOK {
			return
		}
		code, ok := r.Body["code"].(float64)
		msg, _ := r.Body["message"].(string)
		if !ok || msg == "" {
			t.Fatalf("%s %s with %q: error body without code and message: %s", rt.method, rt.path, body, r.Raw)
		}
		if want := api.Code(code).HTTPStatus(); r.Status != want {
			t.Fatalf("%s %s with %q: status %d for code %v, want %d", rt.method, rt.path, body, r.Status, code, want)
		}
	})
}
