package guardrails

import (
	"path"
	"strings"
	"testing"
)

// TestPackageDocs checks that every package of the module with non-test files starts with a doc comment
// saying what it provides: "Package NAME ..." for a library, "Command NAME ..." (NAME the directory) for a
// main. A package of tests only (internal/e2e) builds into nothing and needs none.
func TestPackageDocs(t *testing.T) {
	n := 0
	for _, p := range goList(t) {
		if p.Standard || !inModule(p.ImportPath) || len(p.GoFiles) == 0 {
			continue
		}
		n++
		if msg := docProblem(p); msg != "" {
			t.Errorf("%s: %s", short(p.ImportPath), msg)
		}
	}
	if n == 0 {
		t.Fatal("no packages of the module were listed")
	}
}

// docProblem says what is wrong with p's package doc comment, or returns "".
func docProblem(p pkg) string {
	want := "Package " + p.Name
	if p.Name == "main" {
		want = "Command " + path.Base(p.ImportPath)
	}
	switch {
	case p.Doc == "":
		return "no package doc comment; add one starting " + `"` + want + ` ..."`
	case !strings.HasPrefix(p.Doc, want+" "):
		return "the package doc comment starts " + `"` + firstWords(p.Doc, 3) + `", want "` + want + ` ..."`
	}
	return ""
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

func TestDocProblem(t *testing.T) {
	tests := []struct {
		p    pkg
		want string // a part of the problem; "" for none
	}{
		{pkg{ImportPath: "m/internal/tokens", Name: "tokens", Doc: "Package tokens signs tokens."}, ""},
		{pkg{ImportPath: "m/cmd/latchkey-load", Name: "main", Doc: "Command latchkey-load sends load."}, ""},
		{pkg{ImportPath: "m/internal/tokens", Name: "tokens"}, `no package doc comment; add one starting "Package tokens ..."`},
		{pkg{ImportPath: "m/internal/tokens", Name: "tokens", Doc: "Tokens are signed here."}, `starts "Tokens are signed"`},
		{pkg{ImportPath: "m/internal/tokens", Name: "tokens", Doc: "Package tokensx signs."}, `want "Package tokens ..."`},
		{pkg{ImportPath: "m/cmd/latchkey", Name: "main", Doc: "Package main runs it."}, `want "Command latchkey ..."`},
		{pkg{ImportPath: "m/cmd/latchkey", Name: "main"}, `"Command latchkey ..."`},
	}
	for _, tt := range tests {
		got := docProblem(tt.p)
		if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
			t.Errorf("docProblem(%s %q) = %q, want %q", tt.p.ImportPath, tt.p.Doc, got, tt.want)
		}
	}
}
