package sqlite

import (
	"context"
	"errors"
	"fmt"
	"testing"

	sqlite3 "modernc.org/sqlite/lib"
)

func TestFaultCodes(t *testing.T) {
	tests := []struct {
		name           string
		code           int
		fault, replace bool
	}{
		{"read-only", sqlite3.SQLITE_READONLY, true, true},
		{"read-only, file moved", sqlite3.SQLITE_READONLY_DBMOVED, true, true},
		{"read-only, cannot lock", sqlite3.SQLITE_READONLY_CANTLOCK, true, true},
		{"disk full", sqlite3.SQLITE_FULL, true, false},
		{"I/O error", sqlite3.SQLITE_IOERR, true, true},
		{"write I/O error", sqlite3.SQLITE_IOERR_WRITE, true, true},
		{"fsync I/O error", sqlite3.SQLITE_IOERR_FSYNC, true, true},
		{"cannot open", sqlite3.SQLITE_CANTOPEN, true, true},
		{"busy", sqlite3.SQLITE_BUSY, true, false},
		{"busy snapshot", sqlite3.SQLITE_BUSY_SNAPSHOT, true, false},
		{"lock protocol", sqlite3.SQLITE_PROTOCOL, true, false},
		{"constraint", sqlite3.SQLITE_CONSTRAINT_UNIQUE, false, false},
		{"corrupt", sqlite3.SQLITE_CORRUPT, false, false},
		{"not a database", sqlite3.SQLITE_NOTADB, false, false},
		{"generic error", sqlite3.SQLITE_ERROR, false, false},
		{"interrupted", sqlite3.SQLITE_INTERRUPT, false, false},
	}
	for _, tt := range tests {
		if got := faultCode(tt.code); got != tt.fault {
			t.Errorf("%s (%d): faultCode = %v, want %v", tt.name, tt.code, got, tt.fault)
		}
		if got := tt.fault && sticky(tt.code); got != tt.replace {
			t.Errorf("%s (%d): sticky = %v, want %v", tt.name, tt.code, got, tt.replace)
		}
	}
	for err, want := range map[error]bool{
		context.DeadlineExceeded:                         true,
		fmt.Errorf("wait: %w", context.DeadlineExceeded): true,
		context.Canceled:                                 false,
		errors.New("other"):                              false,
	} {
		if _, got := fault(err); got != want {
			t.Errorf("fault(%v) = %v, want %v", err, got, want)
		}
	}
}
