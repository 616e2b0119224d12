package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

func TestClassifyUnavailable(t *testing.T) {
	pgErr := func(code string) error { return &pgconn.PgError{Severity: "FATAL", Code: code, Message: "m"} }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"plain", errors.New("boom"), false},
		{"no rows", pgx.ErrNoRows, false},
		{"dial refused", refused, true},
		{"wrapped refused", fmt.Errorf("dial: %w", syscall.ECONNREFUSED), true},
		{"reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"broken pipe", fmt.Errorf("write: %w", syscall.EPIPE), true},
		{"eof", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"closed conn", fmt.Errorf("query: %w", pgconn.ErrConnClosed), true},
		{"closed socket", net.ErrClosed, true},
		{"deadline", context.DeadlineExceeded, true},
		{"wrapped deadline", fmt.Errorf("acquire: %w", context.DeadlineExceeded), true},
		{"canceled", context.Canceled, false},
		{"wrapped canceled", fmt.Errorf("acquire: %w", context.Canceled), false},
		{"admin shutdown", pgErr("57P01"), true},
		{"crash shutdown", pgErr("57P02"), true},
		{"starting up", pgErr("57P03"), true},
		{"connection failure", pgErr("08006"), true},
		{"connection does not exist", pgErr("08003"), true},
		{"too many connections", pgErr(codeTooManyConnections), true},
		{"insufficient resources", pgErr("53000"), true},
		{"disk full", pgErr("53100"), true},
		{"out of memory", pgErr("53200"), true},
		{"configuration limit exceeded", pgErr("53400"), false},
		{"io error", pgErr("58030"), true},
		{"read-only transaction", pgErr(codeReadOnlyTransaction), true},
		{"query canceled", pgErr("57014"), false},
		{"unique violation", pgErr(codeUniqueViolation), false},
		{"wrong password", pgErr("28P01"), false},
		{"no such database", pgErr("3D000"), false},
		{"serialization failure", pgErr(codeSerializationFailure), false},
		{"server error wrapped in a net error", &net.OpError{Op: "read", Err: pgErr("23505")}, false},
	}
	for _, tt := range tests {
		if got := unavailable(tt.err); got != tt.want {
			t.Errorf("%s: unavailable(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestWrap(t *testing.T) {
	cause := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	err := wrap("user by id", cause)
	if !errors.Is(err, storage.ErrUnavailable) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("wrap(refused) = %v; want ErrUnavailable and the cause in the chain", err)
	}
	if got, want := err.Error(), "postgres: user by id: storage: unavailable: dial: connection refused"; got != want {
		t.Errorf("wrap(refused).Error() = %q, want %q", got, want)
	}

	err = wrap("user by id", context.Canceled)
	if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("wrap(canceled) = %v; want context.Canceled only", err)
	}
	err = wrap("user by id", context.DeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("wrap(deadline) = %v; want ErrUnavailable and context.DeadlineExceeded", err)
	}
	err = wrap("create user", &pgconn.PgError{Code: codeUniqueViolation})
	if errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("wrap(unique violation) = %v; want no ErrUnavailable", err)
	}
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	serialization := &pgconn.PgError{Code: codeSerializationFailure}
	deadlock := &pgconn.PgError{Code: codeDeadlockDetected}
	calls := 0
	err := retry(ctx, func() error {
		calls++
		switch calls {
		case 1:
			return serialization
		case 2:
			return deadlock
		}
		return nil
	})
	if err != nil || calls != 3 {
		t.Errorf("retry after two lost races = %v after %d calls, want nil after 3", err, calls)
	}

	calls = 0
	err = retry(ctx, func() error { calls++; return serialization })
	if !errors.Is(err, serialization) || calls != maxAttempts {
		t.Errorf("retry of a statement that always loses = %v after %d calls, want the error after %d", err, calls, maxAttempts)
	}

	calls = 0
	other := errors.New("other")
	if err := retry(ctx, func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("retry of another error = %v after %d calls, want it at once", err, calls)
	}
}

func TestIsUUID(t *testing.T) {
	for s, want := range map[string]bool{
		"0f1e2d3c-4b5a-4968-8776-655443322110":   true,
		"0F1E2D3C-4B5A-4968-8776-655443322110":   true,
		"0f1e2d3c4b5a49688776655443322110":       false,
		"{0f1e2d3c-4b5a-4968-8776-655443322110}": false,
		"0f1e2d3c-4b5a-4968-8776-65544332211g":   false,
		"0f1e2d3c-4b5a-4968-8776_655443322110":   false,
		"":                                       false,
		"not a uuid":                             false,
	} {
		if got := isUUID(s); got != want {
			t.Errorf("isUUID(%q) = %v, want %v", s, got, want)
		}
	}
}
