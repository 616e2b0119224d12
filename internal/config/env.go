package config

import (
	"fmt"
	"strings"
)

// envPrefix starts every environment variable Load reads.
const envPrefix = "LATCHKEY_"

// otherEnv are LATCHKEY_ variables that are not config keys but are read elsewhere: the verifier sidecar's
// key (latchkey verifier), which would otherwise be warned about by a server sharing its environment.
var otherEnv = map[string]bool{envPrefix + "VERIFIER_KEY": true}

// EnvWarnings returns one warning per variable of environ (KEY=VALUE entries, as os.Environ gives them)
// that starts with LATCHKEY_ but names no key, in the order given, each with the variable it probably
// meant: Load reads only the variables of Latchkey's keys, so a misspelt one would otherwise be ignored
// without a word. Warnings name variables, never their values.
func EnvWarnings(environ []string) []string {
	known := map[string]bool{}
	for _, f := range fieldTable() {
		known[f.env] = true
	}
	var w []string
	seen := map[string]bool{}
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, envPrefix) || known[name] || otherEnv[name] || seen[name] {
			continue
		}
		seen[name] = true
		if name == envPrefix+"CONFIG" {
			w = append(w, fmt.Sprintf("environment variable %s is ignored: config files are named with --config FILE", name))
			continue
		}
		if entry, ok := nakamaEnvEntry(name); ok {
			w = append(w, fmt.Sprintf("environment variable %s is ignored: %s is a Nakama setting Latchkey does not use", name, entry))
			continue
		}
		w = append(w, fmt.Sprintf("environment variable %s is ignored: no key has that name%s", name, suggestEnv(name)))
	}
	return w
}

// suggestEnv returns a hint for an unknown variable, or "" when there is no single good guess, as suggest
// does for a key: the one variable a couple of typos away, such as LATCHKEY_SESSION_TOKEN_EXPIRY_SEC for
// LATCHKEY_SESION_TOKEN_EXPIRY_SEC; failing that, the one variable that ends with the same words, such as
// LATCHKEY_SOCKET_SERVER_KEY for LATCHKEY_SERVER_KEY.
func suggestEnv(name string) string {
	c := newClosest()
	for _, f := range fieldTable() {
		c.consider(f.env, editDistance(name, f.env))
	}
	if guess := c.best(len(name) - len(envPrefix)); guess != "" {
		return " (did you mean " + guess + "?)"
	}
	suffix := "_" + strings.TrimPrefix(name, envPrefix)
	var found []string
	for _, f := range fieldTable() {
		if strings.HasSuffix(f.env, suffix) {
			found = append(found, f.env)
		}
	}
	if len(found) != 1 {
		return ""
	}
	return " (did you mean " + found[0] + "?)"
}

// nakamaEnvEntry returns the ignored Nakama setting whose variable name is, or starts, name.
func nakamaEnvEntry(name string) (string, bool) {
	for _, e := range nakamaIgnored {
		if v := envName(e); name == v || strings.HasPrefix(name, v+"_") {
			return e, true
		}
	}
	return "", false
}
