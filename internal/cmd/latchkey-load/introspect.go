package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
)

const (
	introspectPath = "/latchkey/v1/introspect"
	ticketPath     = "/v2/session/ticket"
	// ticketAudience is the audience every ticket of a run is minted for and redeemed with.
	ticketAudience = "lkload-bench"
	// ticketTTLSec is the lifetime asked for each ticket: tickets.max_ttl_sec's default, so that a ticket
	// minted at the start of setup is still live at the end of a measured phase capped at a few minutes.
	ticketTTLSec = 300
)

// loginPool logs every body's device in, conc at once, and returns the sessions' tokens.
func loginPool(ctx context.Context, t *target, bodies [][]byte, conc int) ([]tokenPair, error) {
	pairs := make([]tokenPair, len(bodies))
	err := parallel(ctx, conc, len(bodies), func(ctx context.Context, i int) error {
		var err error
		pairs[i], err = t.authDevice(ctx, bodies[i])
		return err
	})
	return pairs, err
}

// introspectBody is the JSON body of an introspection request.
func introspectBody(token, hint, audience string) []byte {
	b, _ := json.Marshal(struct {
		Token    string `json:"token"`
		Hint     string `json:"token_type_hint"`
		Audience string `json:"audience,omitempty"`
	}{token, hint, audience})
	return b
}

// introspect sends one introspection and fails unless the answer is active: the endpoint answers every
// decision with a 200, so an inactive answer (a broken token, a redeemed ticket) must not count as a success.
func (t *target) introspect(ctx context.Context, verifier string, body []byte) (int, error) {
	var ans struct {
		Active bool `json:"active"`
	}
	status, err := t.do(ctx, http.MethodPost, introspectPath, verifier, body, &ans)
	if err == nil && !ans.Active {
		err = &badBodyError{err: errors.New(`"active": false`)}
	}
	return status, err
}

// newIntrospectSession checks one of --pool session tokens per request: a read-only check of the token's
// signature, expiry and that its session has not ended.
func newIntrospectSession(t *target, bodies [][]byte, o options) *scenario {
	reqs := make([][]byte, len(bodies))
	verifier := "Bearer " + o.verifierKey
	return &scenario{
		setup: func(ctx context.Context) error {
			pairs, err := loginPool(ctx, t, bodies, o.concurrency)
			for i, p := range pairs {
				reqs[i] = introspectBody(p.Token, "session", "")
			}
			return err
		},
		request: func(ctx context.Context, seq int) (int, error) {
			return t.introspect(ctx, verifier, reqs[seq%len(reqs)])
		},
	}
}

// newIntrospectTicket redeems n join tickets, one per request, each redeemed once: a store write per
// request. Setup logs in --pool sessions and mints the tickets from them in turn; the server's ticket rate
// limit is per client address, so it must be off (limits.refresh_rate_per_sec 0) or its burst above n.
func newIntrospectTicket(t *target, bodies [][]byte, n int, o options) *scenario {
	reqs := make([][]byte, n)
	verifier := "Bearer " + o.verifierKey
	mint, _ := json.Marshal(struct {
		Audience string `json:"audience"`
		TTLSec   int    `json:"ttl_sec"`
	}{ticketAudience, ticketTTLSec})
	return &scenario{
		setup: func(ctx context.Context) error {
			pairs, err := loginPool(ctx, t, bodies, o.concurrency)
			if err != nil {
				return err
			}
			return parallel(ctx, o.concurrency, n, func(ctx context.Context, i int) error {
				var ans struct {
					Ticket string `json:"ticket"`
				}
				if _, err := t.do(ctx, http.MethodPost, ticketPath, "Bearer "+pairs[i%len(pairs)].Token, mint, &ans); err != nil {
					return err
				}
				if ans.Ticket == "" {
					return errors.New("ticket: no ticket in the response")
				}
				reqs[i] = introspectBody(ans.Ticket, "ticket", ticketAudience)
				return nil
			})
		},
		request: func(ctx context.Context, seq int) (int, error) {
			return t.introspect(ctx, verifier, reqs[seq])
		},
	}
}
