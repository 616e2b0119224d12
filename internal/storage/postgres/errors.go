package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// Constraint names from the migrations, which the store maps to sentinel errors; those of the identity
// columns are in identityColumns.
const (
	conUsersUsername  = "users_username_key"
	conUserDevicePkey = "user_device_pkey"
	conSessionsPkey   = "sessions_pkey"
	conSocketsPkey    = "sockets_pkey"
)

// SQLSTATE codes the store tells apart.
const (
	codeUniqueViolation      = "23505"
	codeForeignKeyViolation  = "23503"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeTooManyConnections   = "53300"
	codeUntranslatable       = "22021" // character_not_in_repertoire: a NUL byte or invalid UTF-8 in text
	codeReadOnlyTransaction  = "25006" // read_only_sql_transaction: a standby, or a database set read-only
)

// wrap annotates err with the operation, and marks failures to reach the database with
// storage.ErrUnavailable while keeping the cause in the chain, so that errors.Is finds both.
func wrap(op string, err error) error {
	if unavailable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, storage.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// unavailable reports whether err means the database could not be reached or used, as opposed to a
// statement failing on its own: refused, lost or closed connections, timeouts (a deadline that passed while
// waiting for a pooled connection, say), a server that is shutting down, starting up, out of connection
// slots, disk or memory, failing I/O, or taking no writes. The caller's own cancellation is not
// unavailability and stays context.Canceled.
func unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	// A server error decides by its code alone: a ConnectError can carry one for a wrong password or a
	// missing database, which retrying will not fix.
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return connectionCode(pgErr.Code)
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), pgconn.Timeout(err), pgconn.SafeToRetry(err),
		errors.As(err, &connectErr), errors.As(err, &netErr),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// connectionCode reports whether a SQLSTATE says the server cannot serve the session now, for a cause that
// passes: class 08 (connection exception), 57P (admin or crash shutdown, cannot connect now, idle session
// timeout), insufficient resources (53000; disk_full 53100; out_of_memory 53200; too_many_connections
// 53300, but not configuration_limit_exceeded 53400, which a retry does not cure), io_error (58030) and
// read_only_sql_transaction (25006: the server is a standby, after a failover say, or the database is set
// read-only).
func connectionCode(code string) bool {
	switch code {
	case "53000", "53100", "53200", codeTooManyConnections, "58030", codeReadOnlyTransaction:
		return true
	}
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P")
}

// pgCode returns the SQLSTATE of a server error, or "".
func pgCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// uniqueConstraint returns the name of the constraint a unique violation broke, or "" for any other error.
func uniqueConstraint(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == codeUniqueViolation {
		return pgErr.ConstraintName
	}
	return ""
}

// retryable reports whether a statement failed only because it lost a race that running it again resolves:
// a serialization failure (under REPEATABLE READ or SERIALIZABLE isolation) or a deadlock. Every write of
// the store is a single statement, which the server rolled back whole.
func retryable(err error) bool {
	code := pgCode(err)
	return code == codeSerializationFailure || code == codeDeadlockDetected
}

// maxAttempts bounds how often retry runs a statement that keeps losing races.
const maxAttempts = 5

// retry runs fn until it succeeds, fails for a reason other than a lost race, or has run maxAttempts times.
func retry(ctx context.Context, fn func() error) error {
	for attempt := 1; ; attempt++ {
		err := fn()
		if err == nil || attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}
