package guardrails

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// domain lists the domain packages: the rules of the service, which never speak HTTP or the socket
// themselves, so that they are tested, and reused (by the runtime functions, the CLI, an admin API), without
// a listener. Package social alone, not its socialtest stand-ins below it, which are test support.
//
// The runtime host (internal/runtimehost) is not one of them: it is an adapter beside the client API and
// the socket, like them a caller of the domain. It implements their hook and RPC interfaces, reads the
// request and socket caller that server code is given, and answers with the client API's wire errors, so
// it imports both layers by design; the domain may import none of the three.
var domain = inMod(
	"internal/accounts/...",
	"internal/sessions/...",
	"internal/tokens/...",
	"internal/storage/...",
	"internal/limits/...",
	"internal/social",
	"internal/migrate/...",
	"internal/config/...",
)

// rules are Latchkey's dependency rules. Each holds for the non-test imports of every package it names;
// a transitive rule (direct false) also holds for everything those imports reach.
var rules = []rule{
	{
		id:     "public",
		why:    "public packages never import internal/...: a studio's code compiles against them alone",
		from:   inMod("api/...", "runtime/...", "client/...", "verify/..."),
		forbid: inMod("internal/..."),
	},
	{
		id:   "domain-layers",
		why:  "domain packages never depend on the HTTP, socket, runtime-host, admin or metrics layers, not even through another package",
		from: domain,
		forbid: append(inMod("internal/httpapi/...", "internal/realtime/...", "internal/runtimehost/...", "internal/adminapi/...",
			"internal/metrics/...", "internal/server/..."), "net/http/httptest", "net/http/pprof", "github.com/gorilla/websocket/..."),
	},
	{
		id:     "domain-net-http",
		why:    "domain packages do not import net/http themselves (they may reach it through an allowed client, such as social)",
		from:   domain,
		forbid: patterns{"net/http/..."},
		direct: true,
	},
	{
		id:     "composition-root",
		why:    "only the launcher, commands and test support import internal/server, the one composition root",
		from:   inMod("..."),
		except: inMod("", "cmd/...", "internal/cmd/...", "internal/server/...", "internal/servertest"),
		forbid: inMod("internal/server/..."),
		direct: true,
	},
	{
		id:     "release-binary",
		why:    "the release binary and the launcher link no test code",
		from:   inMod("", "cmd/latchkey"),
		forbid: patterns{"testing/...", "net/http/httptest"},
	},
}

// allowed are the import edges the rules accept by name. An entry whose edge no longer exists fails the test,
// so that a fixed exception is removed with its fix.
var allowed = []allowance{
	{
		rule: "domain-net-http", from: module + "/internal/social", to: "net/http",
		why: "social verifies credentials with the sign-in providers over HTTPS: an HTTP client, never a server",
	},
}

func TestDependencyRules(t *testing.T) {
	graph := map[string][]string{}
	for _, p := range goList(t) {
		graph[p.ImportPath] = p.Imports
	}
	violations, unused := check(graph, rules, allowed)
	for _, v := range violations {
		t.Errorf("%s", v)
	}
	for _, a := range unused {
		t.Errorf("allowed edge %s → %s (rule %s) is not in the import graph any more: remove it from allowed",
			short(a.from), short(a.to), a.rule)
	}
}

// TestCheck runs the checker on small made-up graphs, so that a rule that stops catching anything is
// noticed even while the real graph is clean.
func TestCheck(t *testing.T) {
	noInternal := rule{id: "public", why: "public never imports internal", from: patterns{"m/api/..."}, forbid: patterns{"m/internal/..."}}
	noHTTPDirect := rule{id: "http", why: "no net/http", from: patterns{"m/internal/..."}, except: patterns{"m/internal/web"}, forbid: patterns{"net/http/..."}, direct: true}
	tests := []struct {
		name       string
		graph      map[string][]string
		rules      []rule
		allowed    []allowance
		want       []string
		wantUnused []string
	}{
		{
			name:  "clean graph",
			graph: map[string][]string{"m/api": {"fmt"}, "m/internal/x": {"m/api"}},
			rules: []rule{noInternal},
		},
		{
			name:  "direct import",
			graph: map[string][]string{"m/api": {"fmt", "m/internal/x"}, "m/internal/x": nil},
			rules: []rule{noInternal},
			want:  []string{"public: api → internal/x"},
		},
		{
			name: "through another package, with the path",
			graph: map[string][]string{
				"m/api/sub":    {"m/helper"},
				"m/helper":     {"strings", "m/deeper"},
				"m/deeper":     {"m/internal/y"},
				"m/internal/y": {"m/internal/z"},
			},
			rules: []rule{noInternal},
			want:  []string{"public: api/sub → helper → deeper → internal/y"},
		},
		{
			name:  "a pattern with /... covers the package itself",
			graph: map[string][]string{"m/api": {"m/internal"}},
			rules: []rule{noInternal},
			want:  []string{"public: api → internal"},
		},
		{
			name:  "a pattern does not cover a longer name",
			graph: map[string][]string{"m/apiary": {"m/internal/x"}, "m/api": {"m/internalize"}},
			rules: []rule{noInternal},
		},
		{
			name: "direct rule ignores what imports reach",
			graph: map[string][]string{
				"m/internal/a":   {"m/internal/web"},
				"m/internal/web": {"net/http"},
				"m/internal/b":   {"net/http/httptest"},
			},
			rules: []rule{noHTTPDirect},
			want:  []string{"http: internal/b → net/http/httptest"},
		},
		{
			name:    "allowed edge is accepted and not followed",
			graph:   map[string][]string{"m/api": {"m/bridge"}, "m/bridge": {"m/internal/x"}, "m/internal/c": {"net/http"}},
			rules:   []rule{noInternal, noHTTPDirect},
			allowed: []allowance{{rule: "public", from: "m/bridge", to: "m/internal/x"}, {rule: "http", from: "m/internal/c", to: "net/http"}},
		},
		{
			name:       "allowed edge of another rule does not excuse",
			graph:      map[string][]string{"m/api": {"m/internal/x"}},
			rules:      []rule{noInternal},
			allowed:    []allowance{{rule: "http", from: "m/api", to: "m/internal/x"}},
			want:       []string{"public: api → internal/x"},
			wantUnused: []string{"http: api → internal/x"},
		},
		{
			name:       "stale allowed edge is reported",
			graph:      map[string][]string{"m/api": {"fmt"}},
			rules:      []rule{noInternal},
			allowed:    []allowance{{rule: "public", from: "m/api", to: "m/internal/x"}},
			wantUnused: []string{"public: api → internal/x"},
		},
		{
			name:  "every violating package is reported once per forbidden package",
			graph: map[string][]string{"m/api": {"m/internal/x", "m/internal/y"}, "m/api/b": {"m/api"}, "m/internal/x": {"m/internal/y"}},
			rules: []rule{noInternal},
			want: []string{
				"public: api → internal/x",
				"public: api → internal/y",
				"public: api/b → api → internal/x",
				"public: api/b → api → internal/y",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			short := func(s string) string { return strings.TrimPrefix(s, "m/") }
			vs, unused := check(tt.graph, tt.rules, tt.allowed)
			var got []string
			for _, v := range vs {
				got = append(got, v.rule.id+": "+joinPath(v.path, short))
			}
			var gotUnused []string
			for _, a := range unused {
				gotUnused = append(gotUnused, a.rule+": "+short(a.from)+" → "+short(a.to))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !slices.Equal(gotUnused, tt.wantUnused) {
				t.Errorf("unused allowances %q, want %q", gotUnused, tt.wantUnused)
			}
		})
	}
}

// patterns match import paths: "a/b" matches a/b only, "a/b/..." matches a/b and every path below it.
type patterns []string

func (ps patterns) match(path string) bool {
	for _, p := range ps {
		if base, ok := strings.CutSuffix(p, "/..."); ok {
			if path == base || strings.HasPrefix(path, base+"/") {
				return true
			}
		} else if path == p {
			return true
		}
	}
	return false
}

// inMod turns paths relative to the module root into patterns; "" is the root package itself.
func inMod(rel ...string) patterns {
	ps := make(patterns, len(rel))
	for i, r := range rel {
		if r == "" {
			ps[i] = module
		} else {
			ps[i] = module + "/" + r
		}
	}
	return ps
}

// rule forbids the packages matching from (but not except) to import a package matching forbid.
type rule struct {
	id, why string
	from    patterns
	except  patterns
	forbid  patterns
	direct  bool // only the packages' own imports; otherwise everything they reach
}

// allowance accepts one import edge for one rule; a transitive check does not follow it either.
type allowance struct {
	rule, from, to, why string
}

// violation is a path of imports from a constrained package to a forbidden one.
type violation struct {
	rule rule
	path []string
}

func (v violation) String() string {
	return fmt.Sprintf("%s: %s", v.rule.why, joinPath(v.path, short))
}

func joinPath(path []string, name func(string) string) string {
	names := make([]string, len(path))
	for i, p := range path {
		names[i] = name(p)
	}
	return strings.Join(names, " → ")
}

// short drops the module path from a package path, for messages.
func short(path string) string {
	if path == module {
		return "(module root)"
	}
	return strings.TrimPrefix(path, module+"/")
}

// check applies rules to graph (package → its imports) and returns the violations, in a stable order, and
// the allowances no rule needed. A transitive rule reports each forbidden package a constrained package
// reaches once, by a shortest path, and does not look beyond it.
func check(graph map[string][]string, rules []rule, allowed []allowance) ([]violation, []allowance) {
	pkgs := make([]string, 0, len(graph))
	for p := range graph {
		pkgs = append(pkgs, p)
	}
	slices.Sort(pkgs)
	used := make([]bool, len(allowed))
	accepted := func(r rule, from, to string) bool {
		for i, a := range allowed {
			if a.rule == r.id && a.from == from && a.to == to {
				used[i] = true
				return true
			}
		}
		return false
	}
	var out []violation
	for _, r := range rules {
		for _, p := range pkgs {
			if !r.from.match(p) || r.except.match(p) {
				continue
			}
			if r.direct {
				for _, imp := range sorted(graph[p]) {
					if r.forbid.match(imp) && !accepted(r, p, imp) {
						out = append(out, violation{rule: r, path: []string{p, imp}})
					}
				}
				continue
			}
			parent := map[string]string{p: ""}
			queue := []string{p}
			for len(queue) > 0 {
				u := queue[0]
				queue = queue[1:]
				for _, v := range sorted(graph[u]) {
					if accepted(r, u, v) {
						continue
					}
					if _, seen := parent[v]; seen {
						continue
					}
					parent[v] = u
					if r.forbid.match(v) {
						out = append(out, violation{rule: r, path: pathTo(parent, v)})
						continue
					}
					queue = append(queue, v)
				}
			}
		}
	}
	slices.SortStableFunc(out, func(a, b violation) int {
		return strings.Compare(strings.Join(a.path, " "), strings.Join(b.path, " "))
	})
	var unused []allowance
	for i, a := range allowed {
		if !used[i] {
			unused = append(unused, a)
		}
	}
	return out, unused
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// pathTo follows parent links back from v to the package the search started at.
func pathTo(parent map[string]string, v string) []string {
	var path []string
	for ; v != ""; v = parent[v] {
		path = append(path, v)
	}
	slices.Reverse(path)
	return path
}
