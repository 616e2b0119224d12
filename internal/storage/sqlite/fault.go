package sqlite

import (
	"context"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// wrap annotates err with the operation. A store fault (see fault) is also marked with
// storage.ErrUnavailable, keeping the cause in the chain so that errors.Is finds both, and one that can
// outlast its cause on its connection (see sticky) has the write connection replaced before the next
// statement, so that the store recovers by itself once the cause is gone.
//
// Nothing is left half-written by a fault: every write is one statement or one transaction, which SQLite
// rolls back whole when it fails.
func (s *Store) wrap(op string, err error) error {
	code, ok := fault(err)
	if !ok {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	if sticky(code) {
		s.write.stale.Store(true)
	}
	return fmt.Errorf("sqlite: %s: %w: %w", op, storage.ErrUnavailable, err)
}

// fault reports whether err means the database cannot be used now, as opposed to a statement failing on
// its own, and returns SQLite's result code (0 for a context deadline). See faultCode. A deadline that
// passed while waiting for the write connection or for another process's lock is one too; the caller's
// own cancellation is not, and stays context.Canceled.
func fault(err error) (code int, ok bool) {
	var se *sqlite.Error
	if errors.As(err, &se) && faultCode(se.Code()) {
		return se.Code(), true
	}
	return 0, errors.Is(err, context.DeadlineExceeded)
}

// faultCode reports whether an SQLite result code, primary or extended, is a store fault that passes when
// its cause does: the file or its directory is read-only (SQLITE_READONLY, also when the file was deleted or
// moved while open), the disk is full (SQLITE_FULL), the operating system failed a read or write
// (SQLITE_IOERR), the file or its journal cannot be opened (SQLITE_CANTOPEN), another process held the lock
// past the busy timeout (SQLITE_BUSY), or the WAL lock protocol failed (SQLITE_PROTOCOL). A corrupt file
// (SQLITE_CORRUPT, SQLITE_NOTADB) does not heal by itself and stays an internal error.
func faultCode(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
		sqlite3.SQLITE_BUSY, sqlite3.SQLITE_PROTOCOL:
		return true
	}
	return false
}

// sticky reports whether a fault can outlast its cause on the connection that met it: a connection opened
// while the file was read-only keeps failing with SQLITE_READONLY after the file is writable again, one
// whose file was deleted or moved keeps failing too, and one that met an I/O error is best opened afresh.
func sticky(code int) bool {
	switch code & 0xff {
	case sqlite3.SQLITE_READONLY, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
		return true
	}
	return false
}
