package server

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestLockDataDir: a second lock on a data_dir is refused with a message naming the directory and pointing
// at PostgreSQL for several nodes; once released, the directory can be locked again; a lock file left
// behind by a process that is gone does not block.
func TestLockDataDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	first, err := LockDataDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, LockFileName))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(os.Getpid()) {
		t.Errorf("lock file holds %q, %v; want this process's id", b, err)
	}

	_, err = LockDataDir(dir)
	if !errors.Is(err, ErrDataDirInUse) {
		t.Fatalf("second LockDataDir = %v, want ErrDataDirInUse", err)
	}
	abs, _ := filepath.Abs(dir)
	for _, want := range []string{abs, "database.address", "PostgreSQL", "process " + strconv.Itoa(os.Getpid())} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not name %q", err, want)
		}
	}

	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := LockDataDir(dir)
	if err != nil {
		t.Fatalf("LockDataDir after release = %v", err)
	}
	again.Close()

	// A stale file, as a killed server leaves it, holds only a process id, and no lock.
	stale := filepath.Join(t.TempDir(), "stale")
	if err := os.MkdirAll(stale, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(stale, LockFileName), []byte("999999\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := LockDataDir(stale)
	if err != nil {
		t.Fatalf("LockDataDir over a stale lock file = %v", err)
	}
	l.Close()
}
