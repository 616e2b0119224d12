package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// containerSuite is the part of the nakama-js suite (compat/test) that runs against the image: every file
// that starts only the plain latchkey binary. Left out: 09-restart (its crash test SIGKILLs the process it
// started, which for a container is the podman client, not the server) and 12-15 (they run other binaries:
// the test server, the examples, the sign-in stand-ins).
var containerSuite = []string{
	"01-device", "02-email", "03-custom", "04-session-vars", "05-account", "06-logout",
	"07-refresh-edge", "08-auto-refresh", "10-raw-input", "11-session-security",
}

// TestContainerImage builds deploy/Containerfile with podman and runs the nakama-js suite against the image.
// It runs when LATCHKEY_TEST_CONTAINER=1 (scripts/test installs podman and runc and sets it). No registry is
// needed: the image's base is scratch, and the build stage's GO_IMAGE is replaced by an empty local image
// into which the build mounts this machine's Go toolchain, module cache and build cache.
//
// LATCHKEY_TEST_PODMAN_FLAGS holds podman's global flags (default "--runtime runc" when runc is installed:
// crun refuses this machine's hybrid cgroup layout).
func TestContainerImage(t *testing.T) {
	if os.Getenv("LATCHKEY_TEST_CONTAINER") != "1" {
		t.Skip("set LATCHKEY_TEST_CONTAINER=1 to build the container image with podman and test it")
	}
	root := checkoutRoot(t)
	podman := podmanCommand(t)
	const version = "v0.0.0-containertest"
	image := "localhost/latchkey-e2e:" + version

	// The build runs offline (GOPROXY=off in the stand-in image), so every module must be in the cache.
	mustRun(t, root, "go", "mod", "download")
	goroot := strings.TrimSpace(mustRun(t, root, "go", "env", "GOROOT"))
	modcache := strings.TrimSpace(mustRun(t, root, "go", "env", "GOMODCACHE"))
	gocache := strings.TrimSpace(mustRun(t, root, "go", "env", "GOCACHE"))

	goCtx := t.TempDir()
	certs, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatalf("the image copies the build stage's CA roots: %v", err)
	}
	writeTextFile(t, filepath.Join(goCtx, "ca-certificates.crt"), string(certs))
	writeTextFile(t, filepath.Join(goCtx, "Containerfile"), `FROM scratch
COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
ENV PATH=/usr/local/go/bin HOME=/root GOPATH=/go GOMODCACHE=/go/pkg/mod GOCACHE=/root/.cache/go-build GOPROXY=off
`)
	goImage := "localhost/latchkey-e2e-go:" + version
	podman(root, "build", "-q", "-t", goImage, goCtx)
	t.Cleanup(func() { exec.Command("podman", "rmi", "-f", image, goImage).Run() })
	podman(root, "build", "--format", "docker", "-f", "deploy/Containerfile",
		"--ignorefile", "deploy/Containerfile.dockerignore", "-t", image,
		"--build-arg", "GO_IMAGE="+goImage, "--build-arg", "VERSION="+version,
		"--network", "host", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024",
		"-v", t.TempDir()+":/tmp", "-v", goroot+":/usr/local/go:ro", "-v", modcache+":/go/pkg/mod:ro",
		"-v", gocache+":/root/.cache/go-build", ".")

	var inspect []struct {
		Config struct {
			User         string
			Volumes      map[string]any
			ExposedPorts map[string]any
			Entrypoint   []string
		}
		HealthCheck struct{ Test []string }
	}
	if err := json.Unmarshal([]byte(podman(root, "image", "inspect", image)), &inspect); err != nil || len(inspect) != 1 {
		t.Fatalf("podman image inspect: %v", err)
	}
	c := inspect[0]
	if c.Config.User != "65532:65532" || c.Config.Volumes["/data"] == nil || c.Config.ExposedPorts["7350/tcp"] == nil ||
		!slices.Equal(c.Config.Entrypoint, []string{"/latchkey"}) {
		t.Errorf("image config = %+v; want user 65532:65532, volume /data, port 7350/tcp, entrypoint /latchkey", c.Config)
	}
	if want := []string{"CMD", "/latchkey", "healthcheck"}; !slices.Equal(c.HealthCheck.Test, want) {
		t.Errorf("image health check = %q; want %q", c.HealthCheck.Test, want)
	}

	runFlags := []string{"run", "--rm", "--network", "host", "--ulimit", "nofile=1024:1024",
		"--ulimit", "nproc=1024:1024", "--health-interval", "disable"}
	if out := podman(root, append(runFlags, image, "version")...); !strings.Contains(out, version) {
		t.Errorf("latchkey version in the image printed %q; want %s", out, version)
	}

	// The image's health check runs `latchkey healthcheck` in the container, which finds the client port in
	// the container's environment, as in deploy/compose.yaml.
	name := "latchkey-e2e-health-" + strconv.Itoa(os.Getpid())
	port := strconv.Itoa(freePort(t))
	// Detached and named, without --rm: the cleanup removes it, after a failure's logs could be read.
	detached := append([]string{"run"}, runFlags[2:]...)
	podman(root, append(detached, "-d", "--name", name, "-e", "LATCHKEY_SOCKET_ADDRESS=127.0.0.1",
		"-e", "LATCHKEY_SOCKET_PORT="+port, image)...)
	t.Cleanup(func() { exec.Command("podman", "rm", "-f", "-t", "10", name).Run() })
	waitHealthcheck(t, "http://127.0.0.1:"+port)
	podman(root, "healthcheck", "run", name) // fails the test unless the check exits 0

	// The harness runs LATCHKEY_BIN with --data_dir DIR; the wrapper hands DIR to the container's user and
	// mounts it at the same path, so every flag means what it means for the plain binary.
	wrapper := filepath.Join(t.TempDir(), "latchkey-in-container")
	writeTextFile(t, wrapper, `#!/usr/bin/env bash
set -euo pipefail
args=("$@")
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
	if [[ ${args[i]} == --data_dir ]]; then data=${args[i+1]}; fi
done
chown 65532:65532 "$data"
exec podman `+strings.Join(podmanGlobalFlags(), " ")+` `+strings.Join(runFlags, " ")+` -v "$data:$data" `+image+` "$@"
`)
	if err := os.Chmod(wrapper, 0o755); err != nil {
		t.Fatal(err)
	}
	compat := filepath.Join(root, "compat")
	if _, err := os.Stat(filepath.Join(compat, "node_modules")); err != nil {
		mustRun(t, compat, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
	}
	files := make([]string, len(containerSuite))
	for i, f := range containerSuite {
		files[i] = "test/" + f + ".test.mjs"
	}
	suite := exec.Command("node", append([]string{"--test", "--test-concurrency=1"}, files...)...)
	suite.Dir = compat
	suite.Env = append(os.Environ(), "LATCHKEY_BIN="+wrapper)
	out, err := suite.CombinedOutput()
	if err != nil {
		t.Fatalf("nakama-js suite against the image: %v\n%s", err, out)
	}
	t.Logf("nakama-js suite against the image:\n%s", lastLines(string(out), 12))
}

// podmanGlobalFlags returns LATCHKEY_TEST_PODMAN_FLAGS, or "--runtime runc" when runc is installed.
func podmanGlobalFlags() []string {
	if f, ok := os.LookupEnv("LATCHKEY_TEST_PODMAN_FLAGS"); ok {
		return strings.Fields(f)
	}
	if _, err := exec.LookPath("runc"); err == nil {
		return []string{"--runtime", "runc"}
	}
	return nil
}

// podmanCommand returns a function that runs podman with the global flags and fails the test on an error.
func podmanCommand(t *testing.T) func(dir string, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Fatalf("LATCHKEY_TEST_CONTAINER=1 but podman is not installed: %v", err)
	}
	return func(dir string, args ...string) string {
		t.Helper()
		return mustRun(t, dir, "podman", append(podmanGlobalFlags(), args...)...)
	}
}

// mustRun runs a command in dir and returns its standard output; it fails the test with the whole output on
// an error.
func mustRun(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func writeTextFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitHealthcheck waits up to 20 s for GET /healthcheck at base to answer 200.
func waitHealthcheck(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if res, err := httpClient.Get(base + "/healthcheck"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return
			}
		}
	}
	t.Fatalf("%s did not answer /healthcheck within 20 s", base)
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
