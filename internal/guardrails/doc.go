// Package guardrails holds the repository's architecture tests and nothing else: the dependency rules
// between Latchkey's packages (deps_test.go) and the rule that every package says what it provides in a
// package doc comment (docs_test.go). Both read the module's import graph with `go list`, so they check what
// the go command builds, build tags and all.
package guardrails
