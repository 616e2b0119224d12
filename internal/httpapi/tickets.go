package httpapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/latchkeyhq/latchkey/internal/tickets"
)

// ticketPath is where a player asks for a join ticket.
const ticketPath = "/v2/session/ticket"

// ticketRequest is POST /v2/session/ticket's body. A ttl_sec of 0 or none is tickets.ttl_sec.
type ticketRequest struct {
	Audience string `json:"audience"`
	TTLSec   int64  `json:"ttl_sec"`
}

type ticketAnswer struct {
	Ticket    string `json:"ticket"`
	ExpiresAt int64  `json:"expires_at"`
	ID        string `json:"id"`
}

// ticket answers POST /v2/session/ticket: a join ticket of the caller's session for an audience (a game
// server, match or service), which the player hands to that server in place of its session token.
func (a *API) ticket(w http.ResponseWriter, r *http.Request) error {
	if a.tickets == nil {
		return errNotFound
	}
	var req ticketRequest
	if err := a.decodeBody(w, r, &req); err != nil {
		return err
	}
	if req.TTLSec < 0 || req.TTLSec > maxTicketTTLSec {
		return tickets.ErrInvalidTTL
	}
	t, err := a.tickets.Mint(r.Context(), callerFrom(r.Context()), req.Audience, time.Duration(req.TTLSec)*time.Second)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, &ticketAnswer{Ticket: t.Token, ExpiresAt: t.ExpiresAt, ID: t.ID})
	return nil
}

// maxTicketTTLSec keeps a requested lifetime from overflowing a time.Duration; the service refuses anything
// above tickets.max_ttl_sec, which config validation keeps far below it.
const maxTicketTTLSec = 1 << 31

// headerJWKSCache lets game servers and proxies keep the key set a minute: a new key is published well
// before it signs (see internal/tickets), so a copy that old still verifies every ticket.
var headerJWKSCache = []string{"public, max-age=60"}

// jwks answers GET /.well-known/jwks.json: the public keys of every ticket that may still be live.
func (a *API) jwks(w http.ResponseWriter, r *http.Request) error {
	if a.tickets == nil {
		return errNotFound
	}
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Cache-Control"] = headerJWKSCache
	w.WriteHeader(http.StatusOK)
	w.Write(a.tickets.JWKS())
	return nil
}

// ticketRefusals are the reasons the service refuses a ticket, each answered "inactive"; any other error
// (the store unreachable) is the request's failure.
var ticketRefusals = []error{
	tickets.ErrMalformed, tickets.ErrSignature, tickets.ErrClaims, tickets.ErrExpired, tickets.ErrAudience,
	tickets.ErrRedeemed, tickets.ErrRevoked,
}

// introspectTicket redeems a ticket for the audience: active once, inactive afterwards on every node, and
// inactive for a ticket of an ended session.
func (a *API) introspectTicket(ctx context.Context, token, audience string) (introspection, error) {
	if a.tickets == nil {
		return introspection{}, nil
	}
	c, err := a.tickets.Redeem(ctx, token, audience)
	if err != nil {
		for _, refusal := range ticketRefusals {
			if errors.Is(err, refusal) {
				return introspection{}, nil
			}
		}
		return introspection{}, err
	}
	return introspection{
		Active: true, TokenType: tokenTypeTicket, Sub: c.UserID, Aud: c.Audience, Exp: c.ExpiresAt, Iat: c.IssuedAt,
		JTI: c.ID, SID: c.SessionID, Username: c.Username, Vars: c.Vars, Iss: c.Issuer,
	}, nil
}
