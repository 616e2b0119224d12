package config

import (
	"fmt"
	"slices"
	"strings"
)

// nakamaIgnored lists the settings of Nakama's config file that Latchkey accepts but does not use, so that a
// Nakama config file loads unchanged. Each entry covers itself and every key beneath it: "console" is the whole
// console section, "socket.ssl_certificate" is one key.
//
// The names are the yaml tags of Nakama's server/config.go (heroiclabs/nakama v3.x: type config and its
// section types), except cluster, which is Nakama Enterprise's. They were written down by hand, not generated,
// so an entry is added only for a setting known to be Nakama's: anything else stays an unknown key, because
// a typo must stop the start. A test checks that no entry names or contains one of Latchkey's own keys.
var nakamaIgnored = []string{
	// Top-level keys.
	"config", // Nakama's list of config files; Latchkey reads only --config

	// Whole sections for features Latchkey does not have.
	"cluster",
	"console",
	"google_auth",
	"iap",
	"leaderboard",
	"match",
	"matchmaker",
	"mfa",
	"party",
	"satori",
	"storage",
	"tracker",

	// Keys in sections Latchkey shares with Nakama.
	"database.conn_max_lifetime_ms",
	"database.dns_scan_interval_sec",
	"database.max_idle_conns",
	"database.max_open_conns",

	"metrics.custom_prefix",
	"metrics.namespace",
	"metrics.reporting_freq_sec",

	"runtime.call_stack_size", // the unprefixed Lua settings are Nakama 2's, still accepted by Nakama 3
	"runtime.event_queue_size",
	"runtime.event_queue_workers",
	"runtime.js_read_only_globals",
	"runtime.lua_api_stacktrace",
	"runtime.lua_call_stack_size",
	"runtime.lua_read_only_globals",
	"runtime.lua_registry_size",
	"runtime.max_count",
	"runtime.min_count",
	"runtime.read_only_globals",
	"runtime.registry_size",

	"session.single_match",
	"session.single_party",

	"socket.ping_backoff_threshold",
	"socket.protocol",
	"socket.response_headers",
}

// nakamaIgnoredEntry returns the entry of nakamaIgnored that covers the dotted name: the name itself, or the
// section holding it.
func nakamaIgnoredEntry(name string) (string, bool) {
	for _, e := range nakamaIgnored {
		if name == e || strings.HasPrefix(name, e+".") {
			return e, true
		}
	}
	return "", false
}

// ignoredWarning returns the one warning naming every ignored Nakama setting, or "" when there is none. It
// names settings only: their values may be secrets (console.signing_key, social.steam.publisher_key, ...).
func ignoredWarning(ignored []string) string {
	if len(ignored) == 0 {
		return ""
	}
	return fmt.Sprintf("ignored Nakama settings Latchkey does not use: %s", strings.Join(ignored, ", "))
}

// sortedUnique returns names sorted, without repeats, in a new slice.
func sortedUnique(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	out := slices.Clone(names)
	slices.Sort(out)
	return slices.Compact(out)
}
