package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ErrNoDatabase is what OpenExisting returns (with errors.Is) when there is no Latchkey database to open.
var ErrNoDatabase = errors.New("sqlite: no Latchkey database")

// OpenExisting opens the database at path like OpenGuarded, but only a database that is there: a file
// holding Latchkey's schema. It never creates a file or a directory, so that a tool run from the wrong
// directory fails instead of acting on a new, empty store. A missing file, or one without the schema,
// is ErrNoDatabase.
func OpenExisting(ctx context.Context, path string) (*Store, error) {
	if !plainPath(path) {
		return nil, fmt.Errorf("sqlite: %q is not a plain database file path", path)
	}
	switch _, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("%w: %s does not exist", ErrNoDatabase, path)
	case err != nil:
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// Read-only, so that a refused file is left exactly as it was found.
	switch ok, err := hasSchema(ctx, path); {
	case err != nil:
		return nil, fmt.Errorf("sqlite: reading %s: %w", path, err)
	case !ok:
		return nil, fmt.Errorf("%w: %s holds no Latchkey schema", ErrNoDatabase, path)
	}
	return OpenGuarded(ctx, path, false)
}
