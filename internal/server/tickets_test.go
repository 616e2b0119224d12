package server

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

func ticketKeyCount(t *testing.T, srv *Server) int {
	t.Helper()
	keys, err := srv.Store().TicketKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// TestTicketsWiring: a node makes the first ticket key when it starts and publishes it; admin commands
// (Options.Existing) make none; Serve runs the key refresh and stops it before returning.
func TestTicketsWiring(t *testing.T) {
	cfg := storeConfig(t)
	logs := make(recordSink, 100)
	srv, err := New(context.Background(), cfg, Options{Logger: slog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	var set struct {
		Keys []struct{ Kid, Alg string } `json:"keys"`
	}
	if err := json.Unmarshal(srv.Tickets.JWKS(), &set); err != nil || len(set.Keys) != 1 || set.Keys[0].Alg != "EdDSA" {
		t.Errorf("JWKS after New = %s, %v; want one EdDSA key", srv.Tickets.JWKS(), err)
	}
	if n := ticketKeyCount(t, srv); n != 1 {
		t.Errorf("stored ticket keys after New = %d, want 1", n)
	}
	if _, err := srv.Store().DeleteTicketKeysBefore(context.Background(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	served, err := serveUntil(t, srv, logs, "listening")
	if err != nil {
		t.Fatal(err)
	}
	if err := served.stop(); err != nil {
		t.Errorf("Serve: %v", err)
	}
	srv.Close()

	admin, err := New(context.Background(), cfg, Options{Existing: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if n := ticketKeyCount(t, admin); n != 0 {
		t.Errorf("stored ticket keys after an admin command's New = %d, want 0", n)
	}
}
