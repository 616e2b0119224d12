package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/latchkeyhq/latchkey/internal/servertest"
)

// TestStudioModule builds examples/studio-module, a studio's own Go module that depends on Latchkey through
// a replace directive (docs/deployment.md), as the studio would: in its own directory, outside any
// workspace, with its committed go.mod and go.sum. The binary serves the module's RPC and runs its
// before-hook over HTTP.
func TestStudioModule(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "mygame")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = filepath.Join(checkoutRoot(t), "examples", "studio-module")
	// -mod=readonly is go build's default; it is spelt out so that a GOFLAGS of the caller cannot let the
	// build quietly fix a stale go.sum that a studio would trip over.
	build.Env = append(os.Environ(), "GOWORK=off", "CGO_ENABLED=0", "GOFLAGS=-mod=readonly")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build in examples/studio-module: %v\n%s\n"+
			"(after changing Latchkey's dependencies, run: cd examples/studio-module && GOWORK=off go mod tidy)", err, out)
	}

	n := startBinary(t, bin, "studio")
	r := n.must("POST", "/v2/rpc/greet?http_key=defaulthttpkey&unwrap=true", "", "{}")
	r.wantStatus(t, 200)
	if r.Body["greeting"] != "hello, server" {
		t.Errorf("greet with the HTTP key answered %s; want greeting \"hello, server\"", r.Raw)
	}

	session := n.must("POST", "/v2/account/authenticate/device?username=studio_player", "basic", `{"id":"studio-device-0001"}`).pair(t)
	vrs, _ := servertest.Claims(t, session.Token)["vrs"].(map[string]any)
	if vrs["tier"] != "free" {
		t.Errorf("token vrs = %v; want tier=free from the module's before-hook", vrs)
	}
	r = n.must("GET", "/v2/rpc/greet?unwrap=true", "bearer:"+session.Token, "")
	r.wantStatus(t, 200)
	var got map[string]string
	if err := json.Unmarshal([]byte(r.Raw), &got); err != nil || got["greeting"] != "hello, studio_player" {
		t.Errorf("greet with a session answered %s; want greeting \"hello, studio_player\"", r.Raw)
	}
}
