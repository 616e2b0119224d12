package social

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds every provider answer read into memory.
const maxBody = 1 << 20

// Lifetimes of cached provider documents: a document's Cache-Control max-age, kept within these bounds, or
// defaultTTL when it gives none.
const (
	minTTL     = time.Minute
	maxTTL     = 24 * time.Hour
	defaultTTL = time.Hour
)

func newClient(roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	t.MaxIdleConnsPerHost = 8
	return &http.Client{
		Transport: t,
		// Redirects are not followed: no provider endpoint used here redirects, and a client-chosen Game
		// Center URL must not lead the server to a host outside the allowed ones.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is a provider's answer, its body read whole (at most maxBody bytes).
type response struct {
	status int
	header http.Header
	body   []byte
}

// get fetches rawURL within the configured timeout. Transport failures, timeouts and oversized bodies are
// ErrUnavailable; the status is left to the caller. The URL may carry a credential in its query, so it
// never appears in an error.
func (v *Verifier) get(ctx context.Context, provider, rawURL string) (response, error) {
	callCtx, cancel := context.WithTimeout(ctx, v.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(callCtx, http.MethodGet, rawURL, nil)
	if err != nil {
		return response{}, v.outage(provider, "cannot build the request")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.client.Do(req)
	if err != nil {
		return response{}, v.transportError(ctx, provider, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err == nil {
		// An answer that completes only as the deadline passes is as late as none; the transport can
		// still deliver one after the request was canceled.
		err = callCtx.Err()
	}
	if err != nil {
		return response{}, v.transportError(ctx, provider, err)
	}
	if len(body) > maxBody {
		return response{}, v.outage(provider, "answer larger than %d bytes", maxBody)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: body}, nil
}

// transportError describes a failed call without its URL: *url.Error prints the URL, query included.
// ctx is the caller's: when it is done, the caller gave up, which is no provider outage.
func (v *Verifier) transportError(ctx context.Context, provider string, err error) error {
	if ctx.Err() != nil {
		return callerGone(ctx, provider)
	}
	var reason string
	var ue *url.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		reason = "no answer within " + v.timeout.String()
	case errors.As(err, &ue):
		reason = ue.Err.Error()
	default:
		reason = err.Error()
	}
	return v.outage(provider, "%s", reason)
}

// outage returns ErrUnavailable with reason and logs it: an outage is the server's concern, unlike a
// refused credential, which the caller reports.
func (v *Verifier) outage(provider, format string, args ...any) error {
	err := unavailable(provider, format, args...)
	v.log.Warn("social provider unavailable", "provider", provider, "error", err.Error())
	return err
}

// lifetime is how long a document fetched with header may be kept.
func lifetime(header http.Header) time.Duration {
	ttl, found := time.Duration(0), false
	for _, line := range header.Values("Cache-Control") {
		for _, directive := range strings.Split(line, ",") {
			name, value, _ := strings.Cut(strings.TrimSpace(directive), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return minTTL
			case "max-age":
				secs, err := strconv.ParseInt(strings.Trim(value, `"`), 10, 64)
				if err != nil || secs < 0 {
					return minTTL
				}
				ttl, found = time.Duration(min(secs, int64(maxTTL/time.Second)))*time.Second, true
			}
		}
	}
	if !found {
		return defaultTTL
	}
	// A shared cache on the way may have held the document for Age seconds already.
	if age, err := strconv.ParseInt(header.Get("Age"), 10, 64); err == nil && age > 0 {
		ttl -= time.Duration(min(age, int64(maxTTL/time.Second))) * time.Second
	}
	return max(minTTL, min(ttl, maxTTL))
}

// scrub removes secrets from provider-supplied text before it goes into an error, and shortens it.
func scrub(text string, secrets ...string) string {
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "[redacted]")
		}
	}
	const maxLen = 120
	if len(text) > maxLen {
		text = text[:maxLen] + "..."
	}
	return strings.ToValidUTF8(text, "?")
}
