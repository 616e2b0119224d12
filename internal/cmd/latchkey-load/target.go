package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// target is the server under load: one shared client whose pool keeps a connection per worker alive.
type target struct {
	client *http.Client
	base   string
	basic  string // the Authorization header carrying the server key
}

func newTarget(o options) *target {
	return newTargetFrom(o, nil, o.concurrency)
}

// newTargetFrom is newTarget whose connections come from the source address local (the kernel's choice
// if nil) and whose pool keeps up to conns idle connections.
func newTargetFrom(o options, local net.IP, conns int) *target {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: loopbackOnly}
	if local != nil {
		dialer.LocalAddr = &net.TCPAddr{IP: local}
	}
	tr := &http.Transport{
		// No proxy: the environment's proxy settings must not send the load anywhere but the loopback server.
		Proxy:               nil,
		DialContext:         dialer.DialContext,
		MaxIdleConns:        max(100, conns),
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 5 * time.Second,
		DisableCompression:  true,
	}
	return &target{
		client: &http.Client{Transport: tr, Timeout: o.timeout},
		base:   o.url,
		basic:  "Basic " + base64.StdEncoding.EncodeToString([]byte(o.serverKey+":")),
	}
}

// loopbackOnly is the dialer's check on the resolved address, just before connecting: "localhost" is
// allowed by name, so this is where a resolver that maps it elsewhere is caught.
func loopbackOnly(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("dial %s %s: %w", network, address, err)
	}
	if !ap.Addr().WithZone("").Unmap().IsLoopback() {
		return fmt.Errorf("dial %s %s: refusing a non-loopback address", network, address)
	}
	return nil
}

// statusError is a non-2xx response; msg is the start of its body (Nakama's {"code","message"}).
type statusError struct {
	status int
	msg    string
}

func (e *statusError) Error() string { return fmt.Sprintf("HTTP %d %s", e.status, e.msg) }

// badBodyError is a 2xx response whose body could not be decoded.
type badBodyError struct{ err error }

func (e *badBodyError) Error() string { return "undecodable response body: " + e.err.Error() }

// do sends one request and, on a 2xx, decodes the body into out when out is not nil. It always reads the
// body to the end so that the connection goes back to the pool.
func (t *target) do(ctx context.Context, method, path, auth string, body []byte, out any) (int, error) {
	status, _, err := t.doHeader(ctx, method, path, auth, body, out)
	return status, err
}

// doHeader is do that also returns the answer's header (nil if no answer arrived).
func (t *target) doHeader(ctx context.Context, method, path, auth string, body []byte, out any) (int, http.Header, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, t.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := t.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 299 {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 256))
		_, _ = io.Copy(io.Discard, res.Body)
		return res.StatusCode, res.Header, &statusError{status: res.StatusCode, msg: strings.TrimSpace(string(msg))}
	}
	if out != nil {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			_, _ = io.Copy(io.Discard, res.Body)
			return res.StatusCode, res.Header, &badBodyError{err: err}
		}
	}
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return res.StatusCode, res.Header, err
	}
	return res.StatusCode, res.Header, nil
}

// healthy checks GET /healthcheck, so that a wrong --url fails with one clear message.
func (t *target) healthy(ctx context.Context) error {
	if _, err := t.do(ctx, http.MethodGet, "/healthcheck", "", nil, nil); err != nil {
		return fmt.Errorf("GET %s/healthcheck: %w", t.base, err)
	}
	return nil
}

// tokenPair is the body of an authenticate or refresh response.
type tokenPair struct {
	Token        string `json:"token"`
	RefreshToken string `json:"refresh_token"`
}

const authDevicePath = "/v2/account/authenticate/device?create=true"

// deviceBody is the authenticate request body for a device id.
func deviceBody(id string) []byte {
	b, _ := json.Marshal(struct {
		ID string `json:"id"`
	}{id})
	return b
}

// authDevice authenticates a device, creating its account if needed, and returns the new session's tokens.
func (t *target) authDevice(ctx context.Context, body []byte) (tokenPair, error) {
	var p tokenPair
	if _, err := t.do(ctx, http.MethodPost, authDevicePath, t.basic, body, &p); err != nil {
		return p, err
	}
	if p.Token == "" || p.RefreshToken == "" {
		return p, fmt.Errorf("authenticate: a token is missing from the response")
	}
	return p, nil
}
