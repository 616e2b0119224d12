package config

import (
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
)

// descriptions holds the one-line help for every key, by dotted name. A test fails if a key has none or if an
// entry names no key.
var descriptions = map[string]string{
	"name":                                    "Node name, added to every log line.",
	"data_dir":                                "Directory for the embedded SQLite database.",
	"socket.address":                          "Address the client HTTP listener binds; empty means every interface.",
	"socket.port":                             "Port of the client HTTP listener.",
	"socket.server_key":                       "Server key clients send to authenticate (HTTP Basic username).",
	"socket.max_request_size_bytes":           "Largest request body accepted, in bytes.",
	"socket.idle_timeout_ms":                  "How long an idle keep-alive connection stays open, in ms.",
	"socket.read_timeout_ms":                  "Deadline for reading a whole request, in ms; 0 means none.",
	"socket.write_timeout_ms":                 "Deadline for writing a response, in ms; 0 means none.",
	"socket.max_message_size_bytes":           "Largest realtime message a client may send, in bytes; a larger one closes the socket (1009).",
	"socket.read_buffer_size_bytes":           "Read buffer of each realtime socket, in bytes.",
	"socket.write_buffer_size_bytes":          "Write buffer of each realtime socket, in bytes (pooled between writes).",
	"socket.ping_period_ms":                   "How often the server pings each realtime socket, in ms; below pong_wait_ms.",
	"socket.pong_wait_ms":                     "A realtime socket that sends nothing (not even a pong) for this long is closed, in ms.",
	"socket.write_wait_ms":                    "Deadline of each write to a realtime socket, in ms; a slower client is disconnected.",
	"socket.outgoing_queue_size":              "Messages queued for one realtime socket; overflowing it closes that socket only.",
	"socket.close_on_revoke":                  "Close realtime sockets when their session ends (logout, session delete); false is Nakama's behaviour.",
	"socket.max_sockets_per_user":             "Most open realtime sockets one user may have across the nodes; a new one beyond it closes the oldest. 0 means no cap.",
	"socket.max_sockets":                      "Most realtime sockets one node holds; beyond it a handshake is answered 503 with Retry-After. 0 means no cap.",
	"session.encryption_key":                  "Secret for session tokens without a kid; signs them unless signing_keys is set.",
	"session.signing_keys":                    "ID:SECRET keys (secrets of 32+ bytes); active_key signs, all verify by kid.",
	"session.active_key":                      "ID of the signing_keys entry that signs new session tokens.",
	"session.token_expiry_sec":                "Session token lifetime, in seconds.",
	"session.refresh_encryption_key":          "Secret for refresh tokens without a kid; must differ from every session key.",
	"session.refresh_signing_keys":            "ID:SECRET refresh keys, as signing_keys; no secret may be a session key's.",
	"session.refresh_active_key":              "ID of the refresh_signing_keys entry that signs new refresh tokens.",
	"session.refresh_token_expiry_sec":        "Refresh token lifetime, in seconds; at least the session lifetime.",
	"session.single_session":                  "Log a user out of every other session when they authenticate.",
	"session.single_socket":                   "A user's new realtime socket closes their older ones, on every node.",
	"session.refresh_rotation":                "Each refresh supersedes the refresh token it was given; a superseded token reused after the grace window ends the session.",
	"session.refresh_reuse_grace_sec":         "Seconds a superseded refresh token still returns the same successor pair (retries, racing refreshes).",
	"session.max_sessions_per_user":           "Most live sessions one user may have; a new login beyond it ends the oldest. 0 means no cap.",
	"session.event_retention_days":            "Days security events are kept before they are deleted.",
	"session.events_per_hour":                 "Most session_created and session_refreshed security events written per account and kind in an hour on a node; the rest are counted into one summary event per hour. 0 writes every one.",
	"session.adopt_nakama_refresh_tokens":     "Accept Nakama's refresh tokens for sessions Latchkey does not know yet, creating them on first refresh (the cut-over from Nakama); off after the migration window.",
	"runtime.http_key":                        "Key for server-to-server calls such as RPCs over HTTP.",
	"runtime.env":                             "KEY=VALUE entries server code reads as its env; a later KEY wins.",
	"runtime.call_timeout_ms":                 "Deadline of every hook and RPC call; an overrun answers 504 and the server goes on.",
	"runtime.path":                            "Directory of JavaScript and Lua modules; empty means data_dir/modules.",
	"runtime.js_entrypoint":                   "JavaScript module to load, relative to runtime.path (e.g. build/index.js); empty loads none.",
	"runtime.js_min_count":                    "JavaScript VMs made at start.",
	"runtime.js_max_count":                    "Most JavaScript VMs; calls beyond wait for a free one within their deadline.",
	"runtime.lua_min_count":                   "Lua states made at start (when there are *.lua modules).",
	"runtime.lua_max_count":                   "Most Lua states; calls beyond wait for a free one within their deadline.",
	"database.address":                        "Database address (PostgreSQL URL); empty means embedded SQLite in data_dir.",
	"database.create_fresh":                   "SQLite: start even though the database that data_dir's latchkey.db.id records is missing, empty or replaced (a missing one is created empty).",
	"logger.level":                            "Lowest level logged: debug, info, warn or error (any case).",
	"logger.format":                           "Log line format: text (key=value) or json (one object a line).",
	"logger.stdout":                           "Write the log to the console (standard error).",
	"logger.file":                             "Also write the log to this file; empty means none.",
	"logger.rotation":                         "Rotate logger.file when it reaches logger.max_size.",
	"logger.max_size":                         "Size in megabytes at which logger.file is rotated.",
	"logger.max_age":                          "Days rotated log files are kept; 0 keeps them regardless of age.",
	"logger.max_backups":                      "Rotated log files kept; 0 keeps all (subject to max_age).",
	"logger.local_time":                       "Name rotated log files with local time rather than UTC.",
	"logger.compress":                         "Gzip rotated log files.",
	"logger.request_level":                    "Level of the one line logged per HTTP request (method, route, status, latency, client address, user id), or off.",
	"shutdown_grace_sec":                      "Seconds in-flight requests get to finish at shutdown; sockets get a close frame meanwhile.",
	"socket.ssl_certificate":                  "PEM certificate chain file; with socket.ssl_private_key the client port serves HTTPS and WSS only (reloaded on SIGHUP).",
	"socket.ssl_private_key":                  "PEM private key file of socket.ssl_certificate.",
	"metrics.prometheus_port":                 "Port serving Prometheus /metrics and the /livez and /readyz checks; 0 means off.",
	"metrics.address":                         "Interface the metrics listener binds; empty means every interface.",
	"metrics.prefix":                          "Prefix of every metric name.",
	"tickets.algorithm":                       "Algorithm of new join-ticket signing keys: EdDSA (Ed25519) or ES256 (ECDSA P-256).",
	"tickets.ttl_sec":                         "Join-ticket lifetime when the caller asks for none, in seconds.",
	"tickets.max_ttl_sec":                     "Longest join-ticket lifetime a caller may ask for, in seconds.",
	"tickets.vars":                            "Session variables copied into join tickets (vrs claim); the others stay out.",
	"tickets.issuer":                          "The iss claim of every join ticket.",
	"tickets.key_rotation_sec":                "Age at which the ticket signing key is replaced; old keys stay published until their tickets expire.",
	"tickets.verifier_keys":                   "Keys game servers send as Bearer to the introspection and revocation-feed endpoints; none turns them off.",
	"photon.enabled":                          "Serve Photon custom authentication on photon.path of the client port.",
	"photon.path":                             "Path of the Photon custom-authentication provider URL.",
	"photon.token_param":                      "Parameter (query or JSON body field) holding the player's join ticket or session token.",
	"photon.secret":                           "Shared secret Photon must send as photon.secret_param (a dashboard parameter); empty means none.",
	"photon.secret_param":                     "Parameter name of photon.secret.",
	"photon.audience":                         "Audience of the join tickets the Photon provider accepts and redeems.",
	"photon.accept_session_tokens":            "Also admit players by their session token (Nakama's way); join tickets are always accepted.",
	"photon.auth_cookie_vars":                 "Session variables answered in AuthCookie (Photon webhooks see it, clients never do).",
	"photon.data_vars":                        "Session variables answered in Data (returned to the client).",
	"admin.address":                           "Interface the admin API listener binds (loopback by default).",
	"admin.port":                              "Port of the admin API listener.",
	"admin.key":                               "Key admin API callers send as a Bearer token; empty turns the admin API off.",
	"auth.bcrypt_cost":                        "Bcrypt cost for new password hashes (4-31); older hashes still verify.",
	"social.steam.publisher_key":              "Steam publisher Web API key, for Steam session tickets.",
	"social.steam.app_id":                     "Steam app id the session tickets are for.",
	"social.steam.api_url":                    "Steam partner Web API base URL (override for a proxy or a test stand-in).",
	"social.facebook_instant_game.app_secret": "Facebook Instant Games app secret, for signed player info.",
	"social.facebook_limited_login.app_id":    "Facebook app id: Limited Login JWTs must have it as audience.",
	"social.facebook_limited_login.keys_url":  "Facebook Limited Login JWKS URL.",
	"social.apple.bundle_id":                  "App bundle id: Sign in with Apple tokens' audience, and Game Center's bundle id.",
	"social.apple.keys_url":                   "Sign in with Apple JWKS URL.",
	"social.google.client_ids":                "OAuth client ids whose Google ID tokens are accepted (their audience).",
	"social.google.keys_url":                  "Google ID token JWKS URL.",
	"social.facebook.graph_url":               "Facebook Graph API base URL, for access tokens.",
	"social.gamecenter.key_host_suffixes":     "Host suffixes a Game Center public_key_url may use.",
	"social.ca_file":                          "PEM file of extra CA roots trusted for provider HTTPS (a proxy's, a test's).",
	"social.timeout_ms":                       "Deadline of each call to a sign-in provider, in ms.",
	"auth.max_concurrent_hashes":              "Most bcrypt operations run at once; 0 means half the CPUs, at least 1.",
	"auth.max_hash_queue":                     "Most requests waiting for a bcrypt slot; beyond, 503 (code 14) with Retry-After at once.",
	"auth.max_hash_wait_ms":                   "Longest wait for a bcrypt slot, in ms, well under the request deadline; then 503 (code 14).",
	"limits.auth_rate_per_sec":                "Authentications (every kind) per second per client address, sustained; 0 disables.",
	"limits.auth_burst":                       "Authentications per client address at once (the bucket size).",
	"limits.refresh_rate_per_sec":             "Session refreshes per second per client address, sustained; join tickets have a bucket of their own at the same rate; 0 disables.",
	"limits.refresh_burst":                    "Session refreshes (and, separately, join tickets) per client address at once (the bucket size).",
	"limits.socket_rate_per_sec":              "Realtime socket handshakes per second per client address, sustained; 0 disables.",
	"limits.socket_burst":                     "Realtime socket handshakes per client address at once (the bucket size).",
	"limits.max_tracked_ips":                  "Client addresses tracked per limit; the least recently seen are forgotten.",
	"limits.trusted_proxies":                  "CIDR networks of reverse proxies whose X-Forwarded-For gives the client address.",
	"limits.lockout_failures":                 "Wrong passwords in a row that lock an account's password logins; 0 disables.",
	"limits.lockout_window_sec":               "A wrong password this long after the previous one starts the count afresh, in seconds.",
	"limits.lockout_min_sec":                  "First lockout, in seconds; each further wrong password doubles it.",
	"limits.lockout_max_sec":                  "Longest lockout, in seconds.",
	"limits.max_tracked_accounts":             "Accounts whose wrong passwords are tracked; the least recently failed are forgotten.",
	"debug.pprof_address":                     "Loopback host:port serving Go's pprof profiles on a listener of its own (e.g. 127.0.0.1:6060); empty means off.",
}

// Key describes one configuration key, for --help output and documentation.
type Key struct {
	Name        string // dotted YAML path, which is also the flag name: "session.token_expiry_sec"
	Type        string // "string", "int", "bool" or "list"
	Default     string // the default, formatted for people; `""` for an empty string, `[]` for an empty list
	Description string
}

// Keys returns every configuration key in the order the Config struct declares them.
func Keys() []Key {
	def := reflect.ValueOf(Default())
	fields := fieldTable()
	keys := make([]Key, 0, len(fields))
	for _, f := range fields {
		keys = append(keys, Key{
			Name:        f.name,
			Type:        f.kind.String(),
			Default:     formatValue(def.FieldByIndex(f.index)),
			Description: descriptions[f.name],
		})
	}
	return keys
}

// FormatKeys writes the key table, aligned in columns, followed by a note on how lists are set.
func FormatKeys(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tTYPE\tDEFAULT\tDESCRIPTION")
	for _, k := range Keys() {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", k.Name, k.Type, k.Default, k.Description)
	}
	tw.Flush()
	fmt.Fprintln(w, "\nA key a.b_c is the flag --a.b_c and the environment variable LATCHKEY_A_B_C.")
	fmt.Fprintln(w, "Lists: repeat the flag to add entries; in the environment, put one entry per line.")
}

// kind is how a key's value is parsed.
type kind int

const (
	kindString kind = iota
	kindInt
	kindBool
	kindList
)

func (k kind) String() string {
	return [...]string{"string", "int", "bool", "list"}[k]
}

// field is one leaf of Config, found by reflection from the yaml tags.
type field struct {
	name  string // dotted YAML path
	env   string // environment variable name
	index []int  // for reflect.Value.FieldByIndex
	kind  kind
}

// fieldTable is built once from Config's yaml tags, so a new struct field is a new key everywhere (YAML,
// environment, flags, help) without another list to keep in step.
var fieldTable = sync.OnceValue(func() []field {
	var out []field
	collectFields(reflect.TypeFor[Config](), "", nil, &out)
	return out
})

func collectFields(t reflect.Type, prefix string, index []int, out *[]field) {
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		tag, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if tag == "-" {
			continue
		}
		if tag == "" {
			panic(fmt.Sprintf("config: field %s%s has no yaml tag", prefix, sf.Name))
		}
		name := prefix + tag
		idx := append(append([]int(nil), index...), i)
		var k kind
		switch sf.Type.Kind() {
		case reflect.Struct:
			collectFields(sf.Type, name+".", idx, out)
			continue
		case reflect.String:
			k = kindString
		case reflect.Int, reflect.Int64:
			k = kindInt
		case reflect.Bool:
			k = kindBool
		case reflect.Slice:
			if sf.Type.Elem().Kind() != reflect.String {
				panic(fmt.Sprintf("config: key %s: unsupported type %s", name, sf.Type))
			}
			k = kindList
		default:
			panic(fmt.Sprintf("config: key %s: unsupported type %s", name, sf.Type))
		}
		*out = append(*out, field{name: name, env: envName(name), index: idx, kind: k})
	}
}

// envName turns a dotted key into its environment variable: session.token_expiry_sec becomes
// LATCHKEY_SESSION_TOKEN_EXPIRY_SEC. It only ever runs forwards, from the key table, because the reverse is
// ambiguous (data_dir and a data.dir would share a name; a test checks that no two keys do).
func envName(name string) string {
	return "LATCHKEY_" + strings.ToUpper(strings.ReplaceAll(name, ".", "_"))
}

// lookupField returns the key with the given dotted name.
func lookupField(name string) (field, bool) {
	for _, f := range fieldTable() {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// isSection reports whether name is a section that holds keys, such as "socket".
func isSection(name string) bool {
	for _, f := range fieldTable() {
		if strings.HasPrefix(f.name, name+".") {
			return true
		}
	}
	return false
}

// suggest returns a hint for an unknown name, or "" when there is no single good guess: the one name a couple
// of typos away, such as session for sesion, or console.port for consol.port; failing that, the one key with the
// same last segment, such as socket.port for a bare --port. Nakama's settings that Latchkey ignores count as
// names too, so that a misspelt one is pointed at its real name.
func suggest(name string) string {
	if guess := nearest(name); guess != "" {
		return " (did you mean " + guess + "?)"
	}
	last := name[strings.LastIndex(name, ".")+1:]
	last = strings.ReplaceAll(last, "-", "_")
	var found []string
	for _, n := range knownNames() {
		if n != name && n[strings.LastIndex(n, ".")+1:] == last {
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return ""
	}
	return " (did you mean " + found[0] + "?)"
}

// nearest returns the one known name closest to name by edit distance, if it is close enough, or "". An ignored
// Nakama entry is compared with as many leading segments of name as it has, and the rest of name is kept, since
// any name under the entry is accepted.
func nearest(name string) string {
	c := newClosest()
	for _, n := range append(knownNames(), sectionNames()...) {
		c.consider(n, editDistance(name, n))
	}
	for _, e := range nakamaIgnored {
		depth := strings.Count(e, ".") + 1
		parts := strings.SplitN(name, ".", depth+1)
		if len(parts) <= depth {
			continue // name is no deeper than e, so it was compared whole above
		}
		head := strings.Join(parts[:depth], ".")
		c.consider(e+"."+parts[depth], editDistance(head, e))
	}
	return c.best(len(name))
}

// closest keeps the one guess with the smallest edit distance seen, a couple of typos at most.
type closest struct {
	guess string
	dist  int
	tie   bool
}

func newClosest() *closest {
	const maxTypos = 2
	return &closest{dist: maxTypos + 1}
}

func (c *closest) consider(guess string, d int) {
	switch {
	case d < c.dist:
		c.guess, c.dist, c.tie = guess, d, false
	case d == c.dist && c.guess != "" && guess != c.guess:
		c.tie = true
	}
}

// best returns the guess for a name of length n, or "" when two guesses tie or the guess is too far: a short
// name is a couple of edits away from too much ("nope" from "name"), so the allowance shrinks with the length.
func (c *closest) best(n int) string {
	if c.guess == "" || c.tie || 3*c.dist > n {
		return ""
	}
	return c.guess
}

// knownNames returns every name a key may have: Latchkey's keys, then the Nakama settings it ignores.
func knownNames() []string {
	names := make([]string, 0, len(fieldTable())+len(nakamaIgnored))
	for _, f := range fieldTable() {
		names = append(names, f.name)
	}
	return append(names, nakamaIgnored...)
}

// sectionNames returns the sections that hold Latchkey's keys, such as "socket", once each.
func sectionNames() []string {
	var out []string
	seen := map[string]bool{}
	for _, f := range fieldTable() {
		for i, c := range f.name {
			if c == '.' && !seen[f.name[:i]] {
				seen[f.name[:i]] = true
				out = append(out, f.name[:i])
			}
		}
	}
	return out
}

// editDistance returns the Levenshtein distance between a and b, in bytes: how many single-byte insertions,
// deletions and substitutions turn one into the other.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// formatValue formats a default for the key table.
func formatValue(v reflect.Value) string {
	switch v.Kind() {
	case reflect.String:
		if v.String() == "" {
			return `""`
		}
		return v.String()
	case reflect.Int, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Slice:
		if v.Len() == 0 {
			return "[]"
		}
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = v.Index(i).String()
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v.Interface())
}
