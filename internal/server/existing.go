package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/storage/postgres"
	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
)

// OpenExistingBackend is OpenBackend for tools (admin commands, migrate status and down): it opens only a
// store that is already there and never creates one, so that a command run from the wrong directory, or
// with the wrong config, says so instead of acting on a new, empty store. On SQLite the database file in
// data_dir must exist and hold Latchkey's schema; on PostgreSQL the database must have been migrated.
func OpenExistingBackend(ctx context.Context, cfg config.Config) (Backend, string, error) {
	addr := cfg.DatabaseAddress()
	if addr == "" {
		path := filepath.Join(cfg.DataDir, "latchkey.db")
		st, err := sqlite.OpenExisting(ctx, path)
		if errors.Is(err, sqlite.ErrNoDatabase) {
			abs, _ := filepath.Abs(path)
			return nil, "", fmt.Errorf("no Latchkey database in data_dir %s (%s): nothing was created. Run "+
				"'latchkey migrate up' (or start the server) to create one, or point --data_dir or --config at "+
				"the server's data: %w", cfg.DataDir, abs, err)
		}
		if err != nil {
			return nil, "", fmt.Errorf("opening SQLite database %s: %w", path, err)
		}
		return st, "sqlite:" + path, nil
	}
	st, err := postgres.OpenExisting(ctx, addr)
	if errors.Is(err, postgres.ErrNoSchema) {
		return nil, "", fmt.Errorf("the PostgreSQL database holds no Latchkey schema: nothing was created. Run "+
			"'latchkey migrate up' (or start the server) to create it, or check database.address: %w", err)
	}
	if err != nil {
		return nil, "", fmt.Errorf("opening PostgreSQL database: %w", err)
	}
	return st, "postgres:" + st.Describe(), nil
}
