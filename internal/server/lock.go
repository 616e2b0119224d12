package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// LockFileName is the file in data_dir that a serving node holds an exclusive lock on.
const LockFileName = "latchkey.lock"

// ErrDataDirInUse is what LockDataDir returns (with errors.Is) when another process holds the lock.
var ErrDataDirInUse = errors.New("data_dir is in use by another Latchkey server")

// errLocked is what lockFile returns when another process holds the lock.
var errLocked = errors.New("locked")

// DataDirLock is a serving node's exclusive hold on its data_dir.
type DataDirLock struct {
	f *os.File
}

// LockDataDir takes the exclusive lock on dir's lock file, creating dir and the file if needed, or fails
// at once with ErrDataDirInUse when another process holds it. Only serve takes it: two servers on one
// embedded SQLite database would each keep their own caches and revocation state and disagree, while the
// admin commands, which run alongside a serving node, share the database safely through SQLite's own
// locking.
//
// The lock belongs to the open file, not to the file's existence: the operating system releases it when
// the process exits, however it exits, so a lock file left by a killed server does not block the next
// start. The file holds the holder's process id, for the message of the one refused.
func LockDataDir(dir string) (*DataDirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	path := filepath.Join(dir, LockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if !errors.Is(err, errLocked) {
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		holder := ""
		if b, err := os.ReadFile(path); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				holder = fmt.Sprintf(" (process %d)", pid)
			}
		}
		abs, _ := filepath.Abs(dir)
		return nil, fmt.Errorf("%w: %s is locked by a running server%s. The embedded SQLite database serves "+
			"one node: stop the other server, give this one its own --data_dir, or, to run several nodes, "+
			"point them all at one PostgreSQL database with database.address", ErrDataDirInUse, filepath.Join(abs, LockFileName), holder)
	}
	// The process id is for people only; failing to write it does not matter.
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &DataDirLock{f: f}, nil
}

// Close releases the lock. The file stays: removing it could remove the file a next server has just
// locked, leaving a third free to lock a new one.
func (l *DataDirLock) Close() error {
	err := unlockFile(l.f)
	if cerr := l.f.Close(); err == nil {
		err = cerr
	}
	return err
}
