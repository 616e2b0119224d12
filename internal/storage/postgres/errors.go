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
// waiting for a pooled connection, say), a server that is shutting down, starting up or out of connection
// slots. The caller's own cancellation is not unavailability and stays context.Canceled.
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

// connectionCode reports whether a SQLSTATE says the server cannot serve the session: class 08
// (connection exception), 57P (admin or crash shutdown, cannot connect now, idle session timeout) and
// too_many_connections.
func connectionCode(code string) bool {
	return strings.HasPrefix(code, "08") || strings.HasPrefix(code, "57P") || code == codeTooManyConnections
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
