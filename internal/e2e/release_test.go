package e2e

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
)

// checkoutRoot returns the repository's top directory (the tests run in internal/e2e).
func checkoutRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// runRelease runs scripts/release VERSION for the host's platform only, into dist, and returns the
// release directory.
func runRelease(t *testing.T, dist, version string) string {
	t.Helper()
	cmd := exec.Command("bash", "scripts/release", version)
	cmd.Dir = checkoutRoot(t)
	cmd.Env = append(os.Environ(), "RELEASE_DIST="+dist, "RELEASE_TARGETS="+goruntime.GOOS+"/"+goruntime.GOARCH,
		"SOURCE_DATE_EPOCH=1700000000")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scripts/release: %v\n%s", err, out)
	}
	return filepath.Join(dist, version)
}

// TestRelease runs scripts/release for the host platform, as a user would check a download: SHA256SUMS
// verifies, the archive holds the binary with LICENSE, README.md and CHANGELOG.md, the binary is static
// (built without cgo) and `latchkey version` prints the version it was stamped with. A second run gives the
// same checksums.
func TestRelease(t *testing.T) {
	const version = "v9.8.7-releasetest"
	dist := t.TempDir()
	dir := runRelease(t, dist, version)

	sums := readSums(t, filepath.Join(dir, "SHA256SUMS"))
	name := "latchkey_" + version + "_" + goruntime.GOOS + "_" + goruntime.GOARCH
	archive := name + ".tar.gz"
	exe := "latchkey"
	if goruntime.GOOS == "windows" {
		archive, exe = name+".zip", "latchkey.exe"
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for i := range files {
		files[i] = filepath.Base(files[i])
	}
	if want := []string{"SHA256SUMS", archive}; !slices.Equal(files, want) {
		t.Fatalf("release directory holds %v; want %v", files, want)
	}
	for file, sum := range sums {
		data, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != sum {
			t.Errorf("SHA256SUMS: %s does not match its sum", file)
		}
	}
	if _, ok := sums[archive]; !ok || len(sums) != 1 {
		t.Errorf("SHA256SUMS lists %v; want exactly %s", sums, archive)
	}

	unpacked := t.TempDir()
	names := unpack(t, filepath.Join(dir, archive), unpacked)
	for _, want := range []string{name + "/", name + "/" + exe, name + "/LICENSE", name + "/README.md", name + "/CHANGELOG.md"} {
		if !slices.Contains(names, want) {
			t.Errorf("archive holds %v; want %s among them", names, want)
		}
	}
	license, err := os.ReadFile(filepath.Join(unpacked, name, "LICENSE"))
	if err != nil || !bytes.Contains(license, []byte("Apache License\n                           Version 2.0")) {
		t.Errorf("LICENSE in the archive is not the Apache License 2.0 (err %v)", err)
	}

	bin := filepath.Join(unpacked, name, exe)
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), version) {
		t.Errorf("latchkey version: %q, err %v; want the stamped version %s", out, err, version)
	}
	info, err := exec.Command("go", "version", "-m", bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v\n%s", err, info)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath=true"} {
		if !strings.Contains(string(info), want) {
			t.Errorf("go version -m %s does not show %s:\n%s", exe, want, info)
		}
	}
	if goruntime.GOOS == "linux" {
		checkStaticELF(t, bin)
	}

	again := readSums(t, filepath.Join(runRelease(t, dist, version), "SHA256SUMS"))
	if again[archive] != sums[archive] {
		t.Errorf("a second release of the same commit has checksum %s, the first %s; want the same", again[archive], sums[archive])
	}
}

// readSums parses a SHA256SUMS file ("HEX  NAME" lines) into name -> hex.
func readSums(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sums := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, file, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("SHA256SUMS line %q is not \"HEX  NAME\"", sc.Text())
		}
		sums[file] = sum
	}
	return sums
}

// unpack extracts a .tar.gz or .zip into dir and returns its entry names in archive order.
func unpack(t *testing.T, archive, dir string) []string {
	t.Helper()
	var names []string
	write := func(name string, mode os.FileMode, r io.Reader) {
		names = append(names, name)
		path := filepath.Join(dir, filepath.FromSlash(name))
		if strings.HasSuffix(name, "/") {
			if err := os.MkdirAll(path, 0o755); err != nil {
				t.Fatal(err)
			}
			return
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, mode.Perm()); err != nil {
			t.Fatal(err)
		}
	}
	if strings.HasSuffix(archive, ".zip") {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		for _, f := range zr.File {
			rc, err := f.Open()
			if err != nil {
				t.Fatal(err)
			}
			write(f.Name, f.Mode(), rc)
			rc.Close()
		}
		return names
	}
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		write(hdr.Name, hdr.FileInfo().Mode(), tr)
	}
}

// checkStaticELF fails the test if the Linux binary asks for a dynamic loader or shared libraries, which
// a binary built with cgo would (and which the distroless and scratch images do not have).
func checkStaticELF(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s has a %v program header: it is dynamically linked", bin, p.Type)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("%s needs shared libraries %v", bin, libs)
	}
}
