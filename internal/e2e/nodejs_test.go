package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// runNakamaJS runs the node script compat/<dir>/<name> (which uses the official nakama-js client) with PATH
// and env, bounded to a minute, logs its output and fails the test when it exits non-zero. Without Node or
// without compat's node_modules it skips, or fails under LATCHKEY_TEST_NODE_REQUIRED.
func runNakamaJS(t *testing.T, dir, name string, env ...string) {
	t.Helper()
	script, err := filepath.Abs(filepath.Join("..", "..", "compat", dir, name))
	if err != nil {
		t.Fatal(err)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		skipUnlessNodeRequired(t, "node is not installed")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(script), "..", "node_modules", "@heroiclabs", "nakama-js")); err != nil {
		skipUnlessNodeRequired(t, "nakama-js is not installed (cd compat && npm ci)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin, script)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("node %s/%s:\n%s", dir, name, out)
	if err != nil {
		t.Fatalf("node %s/%s: %v", dir, name, err)
	}
}
