package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// scenario is one kind of load: setup prepares what the requests need (not measured), request sends one.
type scenario struct {
	setup   func(ctx context.Context) error
	request requestFunc
}

// newScenario builds the named scenario; name has been validated. Device ids carry a random run id, so runs
// against the same database never collide and auth-new never meets an existing device.
func newScenario(name string, t *target, o options) *scenario {
	prefix := "lkload-" + runID() + "-"
	poolBodies := func() [][]byte {
		b := make([][]byte, o.pool)
		for i := range b {
			b[i] = deviceBody(prefix + "pool-" + strconv.Itoa(i))
		}
		return b
	}
	switch name {
	case "auth-new":
		return &scenario{
			setup: func(context.Context) error { return nil },
			request: func(ctx context.Context, seq int) (int, error) {
				return t.do(ctx, http.MethodPost, authDevicePath, t.basic, deviceBody(prefix+"new-"+strconv.Itoa(seq)), nil)
			},
		}
	case "auth-existing":
		bodies := poolBodies()
		return &scenario{
			setup: func(ctx context.Context) error {
				return parallel(ctx, o.concurrency, len(bodies), func(ctx context.Context, i int) error {
					_, err := t.authDevice(ctx, bodies[i])
					return err
				})
			},
			request: func(ctx context.Context, seq int) (int, error) {
				return t.do(ctx, http.MethodPost, authDevicePath, t.basic, bodies[seq%len(bodies)], nil)
			},
		}
	case "refresh":
		return newRefresh(t, poolBodies(), o.concurrency)
	case "logout":
		return newLogout(t, poolBodies(), o.warmup+o.requests, o.concurrency)
	case "get-account":
		bodies := poolBodies()
		bearers := make([]string, len(bodies))
		return &scenario{
			setup: func(ctx context.Context) error {
				pairs, err := loginPool(ctx, t, bodies, o.concurrency)
				for i, p := range pairs {
					bearers[i] = "Bearer " + p.Token
				}
				return err
			},
			request: func(ctx context.Context, seq int) (int, error) {
				return t.do(ctx, http.MethodGet, "/v2/account", bearers[seq%len(bearers)], nil, nil)
			},
		}
	case "introspect-session":
		return newIntrospectSession(t, poolBodies(), o)
	case "introspect-ticket":
		return newIntrospectTicket(t, poolBodies(), o.warmup+o.requests, o)
	}
	panic("unknown scenario " + name)
}

// newRefresh refreshes a pool of sessions. Each pool slot is held by one request at a time and always sends
// the newest refresh token returned for it, so the scenario stays valid if refresh tokens rotate. A refresh
// token that stops working mid-run is a failure like any other.
func newRefresh(t *target, bodies [][]byte, conc int) *scenario {
	refresh := make([]string, len(bodies))
	free := make(chan int, len(bodies))
	return &scenario{
		setup: func(ctx context.Context) error {
			err := parallel(ctx, conc, len(bodies), func(ctx context.Context, i int) error {
				p, err := t.authDevice(ctx, bodies[i])
				refresh[i] = p.RefreshToken
				return err
			})
			for i := range bodies {
				free <- i
			}
			return err
		},
		request: func(ctx context.Context, _ int) (int, error) {
			var slot int
			select {
			case slot = <-free:
			case <-ctx.Done():
				return 0, ctx.Err()
			}
			defer func() { free <- slot }()
			body, _ := json.Marshal(struct {
				Token string `json:"token"`
			}{refresh[slot]})
			var p tokenPair
			status, err := t.do(ctx, http.MethodPost, "/v2/account/session/refresh", t.basic, body, &p)
			if err != nil {
				return status, err
			}
			if p.Token == "" {
				return status, &badBodyError{err: errors.New("no token")}
			}
			if p.RefreshToken != "" {
				refresh[slot] = p.RefreshToken
			}
			return status, nil
		},
	}
}

// newLogout logs out n sessions, one per request, each made in setup by logging in one of the pool devices.
func newLogout(t *target, bodies [][]byte, n, conc int) *scenario {
	type session struct {
		bearer string
		body   []byte
	}
	sessions := make([]session, n)
	return &scenario{
		setup: func(ctx context.Context) error {
			return parallel(ctx, conc, n, func(ctx context.Context, i int) error {
				p, err := t.authDevice(ctx, bodies[i%len(bodies)])
				if err != nil {
					return err
				}
				body, err := json.Marshal(struct {
					Token        string `json:"token"`
					RefreshToken string `json:"refresh_token"`
				}{p.Token, p.RefreshToken})
				sessions[i] = session{bearer: "Bearer " + p.Token, body: body}
				return err
			})
		},
		request: func(ctx context.Context, seq int) (int, error) {
			s := sessions[seq]
			return t.do(ctx, http.MethodPost, "/v2/session/logout", s.bearer, s.body, nil)
		},
	}
}

// parallel runs fn for 0..n-1 on conc workers and returns the first error, after which it starts no more.
func parallel(ctx context.Context, conc, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(conc, n) {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(fmt.Errorf("item %d of %d: %w", i, n, err))
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// runID returns 12 random hex digits.
func runID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
