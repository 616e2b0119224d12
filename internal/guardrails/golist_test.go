package guardrails

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// module is the import path of the module under test; goList checks that it is the one it finds.
const module = "github.com/latchkeyhq/latchkey"

// pkg is the part of `go list -json` these tests read.
type pkg struct {
	ImportPath string
	Name       string
	Doc        string   // the package comment's first sentence
	GoFiles    []string // non-test files after build constraints; none for a test-only package
	Imports    []string // imports of the non-test files: what ships
	Standard   bool
}

var listed struct {
	once sync.Once
	pkgs []pkg
	err  error
}

// goList returns every package of the module and, with them, every package they depend on (the standard
// library included), as `go list -deps ./...` run at the module root reports them. Test files' imports are
// not in the graph: the rules are about what the packages themselves build into, and tests may stand up
// HTTP servers, providers and whole nodes as they need.
func goList(t *testing.T) []pkg {
	t.Helper()
	listed.once.Do(func() { listed.pkgs, listed.err = runGoList() })
	if listed.err != nil {
		t.Fatal(listed.err)
	}
	return listed.pkgs
}

func runGoList() ([]pkg, error) {
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return nil, errors.New("go env GOMOD: " + err.Error())
	}
	root := filepath.Dir(strings.TrimSpace(string(gomod)))
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Name,Doc,GoFiles,Imports,Standard", "./...")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, errors.New("go list -deps ./... in " + root + ": " + err.Error() + "\n" + stderr.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, errors.New("decoding go list output: " + err.Error())
		}
		pkgs = append(pkgs, p)
	}
	for _, p := range pkgs {
		if p.ImportPath == module {
			return pkgs, nil
		}
	}
	return nil, errors.New("go list in " + root + " did not list " + module)
}

// inModule reports whether path is the module's root package or one below it.
func inModule(path string) bool {
	return path == module || strings.HasPrefix(path, module+"/")
}
