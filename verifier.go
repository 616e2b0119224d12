package latchkey

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/latchkeyhq/latchkey/verify"
)

const verifierUsage = `Usage: latchkey verifier --latchkey URL --audience AUDIENCE [flags]

Verifies join tickets for a game server not written in Go, as package verify does for one that is: it
fetches the node's ticket keys and follows its revocation feed, then answers on the loopback interface

  POST /verify {"ticket":"..."}
    200 {"valid":true,"user_id":..,"username":..,"session_id":..,"vars":{..},"expires_at":UNIX}
    200 {"valid":false,"reason":"replayed|expired|revoked|audience|issuer|signature|unknown_key|
                                  not_yet_valid|malformed|busy"}
    503 {"valid":false,"reason":"not_ready"} until the first keys and the feed's catch-up arrive
    400 {"valid":false,"reason":"bad_request"} for a body that is not {"ticket": STRING}
  GET /healthz  200 once ready, 503 before

A ticket is valid once: the same ticket again is "replayed". No request to the node is made per ticket;
a logout, ban or account deletion reaches the verifier through the feed within about a second.

Flags:
  --latchkey URL        a Latchkey node's client URL, e.g. https://auth.example.com (required)
  --audience AUDIENCE   this game server's audience: only tickets minted for it are valid (required)
  --verifier-key KEY    one of the node's tickets.verifier_keys; better given as LATCHKEY_VERIFIER_KEY,
                        since a command line is visible to every user of the machine (required)
  --issuer ISSUER       also require this iss claim (the node's tickets.issuer)
  --listen ADDR         address to answer on (default 127.0.0.1:7360)
  --allow-remote        allow a --listen address other than loopback: anyone who reaches it can use up
                        tickets, so put it behind a firewall
`

// verifierEnvKey is the environment variable of --verifier-key.
const verifierEnvKey = "LATCHKEY_VERIFIER_KEY"

// maxVerifyBody bounds a POST /verify body.
const maxVerifyBody = 16 << 10

func (a *App) verifier(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("verifier", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	base := fs.String("latchkey", "", "")
	audience := fs.String("audience", "", "")
	key := fs.String("verifier-key", "", "")
	issuer := fs.String("issuer", "", "")
	listen := fs.String("listen", "127.0.0.1:7360", "")
	remote := fs.Bool("allow-remote", false, "")
	usage := func(format string, args ...any) error {
		return &usageError{cmd: "verifier", msg: fmt.Sprintf(format, args...)}
	}
	if err := fs.Parse(args); err != nil {
		return usage("%v", err)
	}
	if fs.NArg() > 0 {
		return usage("unexpected argument %q", fs.Arg(0))
	}
	if *key == "" {
		*key = a.getenv(verifierEnvKey)
	}
	var missing []string
	for _, m := range []struct{ name, val string }{{"--latchkey", *base}, {"--audience", *audience}, {"--verifier-key (or " + verifierEnvKey + ")", *key}} {
		if m.val == "" {
			missing = append(missing, m.name)
		}
	}
	if len(missing) > 0 {
		return usage("missing %s", strings.Join(missing, ", "))
	}
	if !*remote && !loopback(*listen) {
		return usage("--listen %s is not a loopback address; add --allow-remote to answer other machines", *listen)
	}
	log := slog.New(slog.NewTextHandler(a.stderr, nil))
	v, err := verify.New(verify.Config{BaseURL: *base, VerifierKey: *key, Audience: *audience, Issuer: *issuer, Logger: log})
	if err != nil {
		return usage("%v", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := v.Start(ctx); err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: sidecarRoutes(v), ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("verifier listening", "addr", ln.Addr().String(), "latchkey", *base, "audience", *audience)
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdown, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	srv.Shutdown(shutdown)
	log.Info("verifier stopped")
	return nil
}

// loopback reports whether addr (host:port) names a loopback host only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// sidecarRoutes is the verifier's one route table.
func sidecarRoutes(v *verify.Verifier) http.Handler {
	mux := http.NewServeMux()
	for _, r := range []struct {
		pattern string
		handle  http.HandlerFunc
	}{
		{"POST /verify", func(w http.ResponseWriter, r *http.Request) { sidecarVerify(v, w, r) }},
		{"GET /healthz", func(w http.ResponseWriter, r *http.Request) { sidecarHealth(v, w) }},
	} {
		mux.HandleFunc(r.pattern, r.handle)
	}
	return mux
}

// sidecarRefusal is the body of a POST /verify answer that admits no one.
type sidecarRefusal struct {
	Valid  bool   `json:"valid"`
	Reason string `json:"reason"`
}

// sidecarClaims is the body of a POST /verify answer for a valid ticket.
type sidecarClaims struct {
	Valid     bool              `json:"valid"`
	UserID    string            `json:"user_id"`
	Username  string            `json:"username"`
	SessionID string            `json:"session_id"`
	Vars      map[string]string `json:"vars"`
	ExpiresAt int64             `json:"expires_at"`
}

func sidecarVerify(v *verify.Verifier, w http.ResponseWriter, r *http.Request) {
	var body struct {
		Ticket *string `json:"ticket"`
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxVerifyBody))
	if err := dec.Decode(&body); err != nil || body.Ticket == nil || dec.More() {
		writeSidecar(w, http.StatusBadRequest, sidecarRefusal{Reason: "bad_request"})
		return
	}
	c, err := v.Verify(*body.Ticket)
	if err != nil {
		status := http.StatusOK
		if errors.Is(err, verify.ErrNotReady) {
			status = http.StatusServiceUnavailable
		}
		writeSidecar(w, status, sidecarRefusal{Reason: verify.Reason(err)})
		return
	}
	vars := c.Vars
	if vars == nil {
		vars = map[string]string{}
	}
	writeSidecar(w, http.StatusOK, sidecarClaims{Valid: true, UserID: c.UserID, Username: c.Username, SessionID: c.SessionID,
		Vars: vars, ExpiresAt: c.ExpiresAt.Unix()})
}

func sidecarHealth(v *verify.Verifier, w http.ResponseWriter) {
	if !v.Ready() {
		writeSidecar(w, http.StatusServiceUnavailable, map[string]bool{"ready": false})
		return
	}
	writeSidecar(w, http.StatusOK, map[string]bool{"ready": true})
}

func writeSidecar(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
