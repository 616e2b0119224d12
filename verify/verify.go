package verify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Verifier. BaseURL, VerifierKey and Audience are required; every other zero value
// means the default its comment gives.
type Config struct {
	// BaseURL is a Latchkey node's client port, such as "https://auth.example.com" (a path prefix is kept).
	BaseURL string
	// VerifierKey is one of the node's tickets.verifier_keys, sent as a Bearer token on the revocation
	// feed. It is a secret: it is never logged.
	VerifierKey string
	// Audience is this game server's audience: only tickets minted for exactly it are accepted.
	Audience string
	// Issuer, when set, must equal every ticket's iss claim (the node's tickets.issuer).
	Issuer string
	// HTTPClient makes the requests (default: a client of its own). The feed long-polls for up to FeedWait,
	// so the client's Timeout, if any, must be longer; each request has its own deadline regardless.
	HTTPClient *http.Client
	// Logger receives the fetch and feed failures (default: none). Tickets and keys are never logged.
	Logger *slog.Logger
	// KeysInterval is how often the JWKS is fetched again (default 5 minutes).
	KeysInterval time.Duration
	// KeysMinInterval is the least time between two fetches of the JWKS caused by tickets with an unknown
	// kid (default 10 seconds), so that made-up kids cannot make the verifier hammer the node.
	KeysMinInterval time.Duration
	// FeedWait is how long one revocation-feed request waits for news (default 20 seconds; the node
	// answers at most 25).
	FeedWait time.Duration
	// MaxRetryDelay bounds the delay between failed fetches (default 30 seconds); the delay starts at a
	// quarter of a second, doubles with each failure, and is jittered.
	MaxRetryDelay time.Duration
	// MaxTicketBytes refuses longer tickets before parsing them (default 8192).
	MaxTicketBytes int
	// MaxSeen bounds how many unexpired ticket ids the verifier remembers to refuse replays (default
	// 1,000,000). When it is full of unexpired ids, Verify refuses new tickets with ErrBusy rather than
	// forget an id early.
	MaxSeen int
	// Now is the clock (default time.Now). Expiry decisions never go backwards with it: a wall clock set
	// back does not make an expired, forgotten ticket valid again.
	Now func() time.Time
}

// Claims are an accepted ticket's claims.
type Claims struct {
	Issuer     string            // iss
	UserID     string            // sub
	Audience   string            // aud
	ID         string            // jti: the ticket's own id
	SessionID  string            // sid: the player's session; Ended reports whether it has ended since
	Generation int64             // gen: the account generation of the session (0 when absent)
	Username   string            // usn
	Vars       map[string]string // vrs: the session variables the node copies into tickets; nil when none
	IssuedAt   time.Time         // iat
	ExpiresAt  time.Time         // exp
}

// Error is why a ticket was refused. Verify returns exactly the Err values below; compare with errors.Is,
// or read Reason (a short word fit for a wire answer or a metric label) through errors.As.
type Error struct {
	Reason string
}

func (e *Error) Error() string { return "verify: ticket refused: " + e.Reason }

// The reasons Verify refuses a ticket.
var (
	ErrNotReady   = &Error{"not_ready"}     // the first JWKS fetch or feed catch-up has not completed
	ErrMalformed  = &Error{"malformed"}     // not a ticket: size, syntax, header, claims or typ
	ErrUnknownKey = &Error{"unknown_key"}   // no published key has the ticket's kid, even after a refresh
	ErrSignature  = &Error{"signature"}     // the signature, or an alg that does not match the key
	ErrIssuer     = &Error{"issuer"}        // iss is not Config.Issuer
	ErrAudience   = &Error{"audience"}      // aud is not Config.Audience
	ErrExpired    = &Error{"expired"}       // exp has passed
	ErrNotYet     = &Error{"not_yet_valid"} // iat is more than 5 seconds ahead of this clock
	ErrRevoked    = &Error{"revoked"}       // the feed ended the ticket's session
	ErrReplayed   = &Error{"replayed"}      // this process accepted the ticket already
	ErrBusy       = &Error{"busy"}          // the set of seen ticket ids is full of unexpired ones
)

// Reason returns the Reason of a refusal from Verify, or "" for nil and for other errors.
func Reason(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ""
}

// issuedSkew is how far ahead of this clock a ticket's iat may be: the node's clock may run a little ahead.
const issuedSkew = 5

// Verifier verifies join tickets offline, with the node's published keys and its revocation feed. It is
// safe for concurrent use.
type Verifier struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	base   string // BaseURL without a trailing slash

	keys      atomic.Pointer[keySet]
	refreshMu sync.Mutex // one JWKS fetch at a time
	lastAsked time.Time  // when an unknown kid last caused a fetch; under refreshMu

	revoked revocations
	seen    seenSet
	clock   atomic.Int64 // the latest Unix second Now returned: expiry never goes backwards

	started   atomic.Bool
	ctx       context.Context // Start's, for the fetches Verify causes
	keysReady atomic.Bool
	feedReady atomic.Bool
	ready     chan struct{}
	readyOnce sync.Once
}

// New checks cfg and returns a Verifier. It makes no request: Start does.
func New(cfg Config) (*Verifier, error) {
	var problems []error
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		problems = append(problems, fmt.Errorf("BaseURL %q is not an http or https URL", cfg.BaseURL))
	}
	if cfg.VerifierKey == "" {
		problems = append(problems, errors.New("VerifierKey is required (one of the node's tickets.verifier_keys)"))
	}
	if !validAudience(cfg.Audience) {
		problems = append(problems, errors.New("the Audience must be 1 to 128 bytes without control characters"))
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("verify: %w", errors.Join(problems...))
	}
	defaults(&cfg)
	v := &Verifier{
		cfg: cfg, client: cfg.HTTPClient, log: cfg.Logger, base: trimSlash(cfg.BaseURL),
		seen: newSeenSet(cfg.MaxSeen), revoked: newRevocations(), ready: make(chan struct{}),
	}
	v.keys.Store(&keySet{})
	return v, nil
}

func defaults(c *Config) {
	set := func(d *time.Duration, def time.Duration) {
		if *d <= 0 {
			*d = def
		}
	}
	set(&c.KeysInterval, 5*time.Minute)
	set(&c.KeysMinInterval, 10*time.Second)
	set(&c.FeedWait, 20*time.Second)
	set(&c.MaxRetryDelay, 30*time.Second)
	if c.MaxTicketBytes <= 0 {
		c.MaxTicketBytes = 8192
	}
	if c.MaxSeen <= 0 {
		c.MaxSeen = 1_000_000
	}
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{}
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// validAudience reports whether aud is an audience as Latchkey accepts it: 1 to 128 bytes, no control
// characters.
func validAudience(aud string) bool {
	if len(aud) == 0 || len(aud) > 128 {
		return false
	}
	for i := 0; i < len(aud); i++ {
		if aud[i] < 0x20 || aud[i] == 0x7f {
			return false
		}
	}
	return true
}

// Start fetches the node's keys and follows its revocation feed from the start (after=0) in the
// background, until ctx is done. It returns at once; Ready reports when the first fetch and the feed's
// catch-up have completed, and until then Verify refuses every ticket with ErrNotReady. Failed requests
// are retried with a growing, jittered delay. Start may be called once.
func (v *Verifier) Start(ctx context.Context) error {
	if !v.started.CompareAndSwap(false, true) {
		return errors.New("verify: Start called twice")
	}
	v.ctx = ctx
	go v.refreshKeys(ctx)
	go v.follow(ctx)
	return nil
}

// Ready reports whether the verifier has its first keys and has caught up with the revocation feed.
func (v *Verifier) Ready() bool {
	return v.keysReady.Load() && v.feedReady.Load()
}

// WaitReady waits until Ready or until ctx is done, and returns ctx's error in the second case.
func (v *Verifier) WaitReady(ctx context.Context) error {
	select {
	case <-v.ready:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *Verifier) markReady() {
	if v.Ready() {
		v.readyOnce.Do(func() { close(v.ready) })
	}
}

// now returns the current Unix second, never earlier than one it returned before.
func (v *Verifier) now() int64 {
	t := v.cfg.Now().Unix()
	for {
		last := v.clock.Load()
		if t <= last {
			return last
		}
		if v.clock.CompareAndSwap(last, t) {
			return t
		}
	}
}

// Verify checks a ticket offline and returns its claims, once: the same ticket is refused with
// ErrReplayed afterwards. It checks the size and syntax, the header's alg (EdDSA or ES256, matching the
// key's type) and kid, the signature, typ "latchkey-ticket", iss (when Config.Issuer is set), aud, exp
// (strictly after now), iat (at most 5 seconds ahead), that the feed has not ended the session, and the
// one-time use. A ticket with a kid it does not know makes it fetch the keys once (at most once per
// KeysMinInterval) before refusing with ErrUnknownKey; that is the only case in which it waits for the
// network.
func (v *Verifier) Verify(ticket string) (*Claims, error) {
	if !v.Ready() {
		return nil, ErrNotReady
	}
	if len(ticket) > v.cfg.MaxTicketBytes {
		return nil, ErrMalformed
	}
	p, err := parseTicket(ticket)
	if err != nil {
		return nil, err
	}
	k := v.keyFor(p.kid)
	if k == nil {
		return nil, ErrUnknownKey
	}
	if !k.verify(p.alg, p.signed, p.sig) {
		return nil, ErrSignature
	}
	c, err := parseClaims(p.payload)
	if err != nil {
		return nil, err
	}
	now := v.now()
	switch {
	case v.cfg.Issuer != "" && c.Issuer != v.cfg.Issuer:
		return nil, ErrIssuer
	case c.Audience != v.cfg.Audience:
		return nil, ErrAudience
	case c.exp <= now:
		return nil, ErrExpired
	case c.iat > now+issuedSkew:
		return nil, ErrNotYet
	case v.revoked.ends(&c.Claims):
		return nil, ErrRevoked
	}
	if err := v.seen.add(c.id, c.exp, now); err != nil {
		return nil, err
	}
	return &c.Claims, nil
}

// Ended reports whether the revocation feed has ended the session of an accepted ticket since: a game
// server can ask it now and then for each connected player, and let go of the players it names. An ended
// session is remembered until five minutes after the session itself would have expired.
func (v *Verifier) Ended(c *Claims) bool {
	return v.revoked.ends(c)
}
