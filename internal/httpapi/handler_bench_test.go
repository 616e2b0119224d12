package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/server"
)

// BenchmarkHandlerGetAccount is the server-side cost of GET /v2/account without the network: bearer
// verification, denylist, the SQLite read and the JSON response.
func BenchmarkHandlerGetAccount(b *testing.B) {
	srv, err := server.New(context.Background(), testConfigB(b), server.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { srv.Close() })
	hs := httptest.NewServer(srv.API)
	b.Cleanup(hs.Close)
	tok := benchToken(b, hs.URL)
	req := httptest.NewRequest("GET", "/v2/account", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		srv.API.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
