package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/migrate"
)

// ErrNoSchema is what OpenExisting returns (with errors.Is) for a database without Latchkey's schema.
var ErrNoSchema = errors.New("postgres: no Latchkey schema")

// OpenExisting is Open for a database that already holds Latchkey's schema (its migration table, in the
// search path): it connects to look, and returns ErrNoSchema, creating nothing, when the schema is not
// there, so that a tool pointed at the wrong database fails instead of acting on an empty one.
func OpenExisting(ctx context.Context, address string) (*Store, error) {
	s, err := Open(ctx, address)
	if err != nil {
		return nil, err
	}
	var found bool
	err = s.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, migrate.Table).Scan(&found)
	if err == nil && !found {
		err = fmt.Errorf("%w: database %s has no table %s", ErrNoSchema, s.desc, migrate.Table)
	} else if err != nil {
		err = wrap("look for the schema", err)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
