package guardrails

import "testing"

// stdlibOnly are the packages a studio's game server imports to verify join tickets: they build from the
// standard library alone, so that adding them to a game server brings in no other module (and none of
// Latchkey's server).
var stdlibOnly = inMod("verify/...")

// TestStandardLibraryOnly checks that everything stdlibOnly packages reach is the standard library or
// another stdlibOnly package.
func TestStandardLibraryOnly(t *testing.T) {
	pkgs := map[string]pkg{}
	for _, p := range goList(t) {
		pkgs[p.ImportPath] = p
	}
	n := 0
	for path := range pkgs {
		if !stdlibOnly.match(path) {
			continue
		}
		n++
		for _, bad := range nonStandard(pkgs, path) {
			t.Errorf("%s: %s is neither the standard library nor %v", short(path), joinPath(bad, short), stdlibOnly)
		}
	}
	if n == 0 {
		t.Fatalf("no package matches %v", stdlibOnly)
	}
}

// nonStandard returns the import paths from root to each package it reaches that is neither standard nor
// stdlibOnly.
func nonStandard(pkgs map[string]pkg, root string) [][]string {
	var bad [][]string
	seen := map[string]bool{root: true}
	queue := [][]string{{root}}
	for len(queue) > 0 {
		path := queue[0]
		queue = queue[1:]
		for _, imp := range pkgs[path[len(path)-1]].Imports {
			if seen[imp] {
				continue
			}
			seen[imp] = true
			next := append(append([]string(nil), path...), imp)
			switch {
			case stdlibOnly.match(imp):
				queue = append(queue, next)
			case !pkgs[imp].Standard:
				bad = append(bad, next)
			}
		}
	}
	return bad
}
