package postgres

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultDatabase is the database used when the address names none (Nakama's default is "nakama").
const DefaultDatabase = "latchkey"

// applicationName identifies the store's pool connections in pg_stat_activity unless the address sets
// application_name.
const applicationName = "latchkey"

// defaultConnectTimeout bounds a connection attempt when the address sets no connect_timeout, so that an
// unreachable host fails a request with ErrUnavailable instead of hanging until the caller's deadline.
const defaultConnectTimeout = 10 * time.Second

// defaultMaxConns is the pool size when the address does not set pool_max_conns. Requests spend most of
// their time waiting on the network rather than on a CPU, so the pool is a few times the core count.
func defaultMaxConns() int32 {
	return int32(max(4, 4*runtime.GOMAXPROCS(0)))
}

// normalizeAddress turns an address in any accepted form into a postgres URL with the defaults applied
// (see the package documentation). Its errors never contain the password.
func normalizeAddress(address string) (*url.URL, error) {
	raw := strings.TrimSpace(address)
	if raw == "" {
		return nil, errors.New("postgres: empty database address")
	}
	if !strings.HasPrefix(raw, "postgres://") && !strings.HasPrefix(raw, "postgresql://") {
		if strings.Contains(raw, "://") {
			return nil, fmt.Errorf("postgres: address %s: want a postgres:// or postgresql:// URL or user:password@host:port/dbname", redact(raw))
		}
		// Nakama's form: the address is a URL without its scheme.
		raw = "postgresql://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, parseError(raw, err)
	}
	q := u.Query()
	if (u.Path == "" || u.Path == "/") && q.Get("dbname") == "" && os.Getenv("PGDATABASE") == "" {
		u.Path = "/" + DefaultDatabase
		u.RawPath = ""
	}
	if q.Get("sslmode") == "" && os.Getenv("PGSSLMODE") == "" {
		q.Set("sslmode", "prefer")
		u.RawQuery = q.Encode()
	}
	return u, nil
}

// parseError reports that raw is not a URL. The parser's own message is left out when it may quote part of
// the password (an invalid escape in it, say), in favour of a hint at the likely cause.
func parseError(raw string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // url.Error repeats the whole URL
	}
	if pw := heuristicPassword(raw); pw != "" && sharesText(err.Error(), pw) {
		return fmt.Errorf("postgres: cannot parse address %s: percent-encode any of :/?#[]@%% in the user name and password", redact(raw))
	}
	return fmt.Errorf("postgres: cannot parse address %s: %v", redact(raw), err)
}

// sharesText reports whether msg contains secret or any three consecutive bytes of it.
func sharesText(msg, secret string) bool {
	if len(secret) < 3 {
		return strings.Contains(msg, secret)
	}
	for i := 0; i+3 <= len(secret); i++ {
		if strings.Contains(msg, secret[i:i+3]) {
			return true
		}
	}
	return false
}

// parseConfig builds the pool configuration for an address.
func parseConfig(address string) (*pgxpool.Config, error) {
	u, err := normalizeAddress(address)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		// pgx masks the passwords it recognizes; its message is scrubbed again in case it missed one, and not
		// wrapped, so that no caller can print the original through the chain.
		pw, _ := u.User.Password()
		return nil, fmt.Errorf("postgres: address %s: %s", redact(u.String()),
			scrub(err.Error(), pw, u.Query().Get("password"), heuristicPassword(address)))
	}
	if !u.Query().Has("pool_max_conns") {
		cfg.MaxConns = defaultMaxConns()
	}
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = applicationName
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if !u.Query().Has("default_query_exec_mode") {
		// pgx's own default, set here so that nothing else can change it unseen: each connection prepares a
		// statement the first time it runs it and reuses it afterwards, so a statement is parsed and
		// planned once per connection rather than once per execution, and costs one round trip.
		// Statements that build their text (UpdateProfile's) have few forms, which the cache holds.
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
	}
	return cfg, nil
}

// redact returns address with its password masked, for messages. It also handles text that does not parse
// as a URL, or parses differently from what its author meant (an unescaped '?' or '/' in the password),
// erring towards masking more than the password.
func redact(address string) string {
	out := address
	if u, err := url.Parse(address); err == nil && u.Opaque == "" {
		r := *u
		if q := r.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			r.RawQuery = q.Encode()
		}
		out = r.Redacted()
	}
	if start, end, ok := passwordBounds(out); ok {
		out = out[:start] + "xxxxx" + out[end:]
	}
	return out
}

// heuristicPassword returns what passwordBounds takes for the password of address, or "".
func heuristicPassword(address string) string {
	if start, end, ok := passwordBounds(address); ok {
		return address[start:end]
	}
	return ""
}

// passwordBounds locates the password in address without parsing it as a URL: the user info runs from
// after the scheme to the last '@', and the password from the first ':' in it to that '@'. ok is false when
// there is no (or an empty) password. An already masked password ("xxxxx") counts as none.
func passwordBounds(address string) (start, end int, ok bool) {
	from := 0
	if i := strings.Index(address, "://"); i >= 0 {
		from = i + len("://")
	}
	at := strings.LastIndexByte(address, '@')
	if at < from {
		return 0, 0, false
	}
	colon := strings.IndexByte(address[from:at], ':')
	if colon < 0 {
		return 0, 0, false
	}
	start, end = from+colon+1, at
	if start == end || address[start:end] == "xxxxx" {
		return 0, 0, false
	}
	return start, end, true
}

// scrub replaces every occurrence of the secrets, raw or percent-encoded, in msg.
func scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, form := range []string{s, url.PathEscape(s), url.QueryEscape(s), url.UserPassword("", s).String()[1:]} {
			msg = strings.ReplaceAll(msg, form, "xxxxx")
		}
	}
	return msg
}
