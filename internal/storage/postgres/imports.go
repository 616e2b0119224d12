package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// errImportRace marks an import attempt that broke a unique constraint its checks had found free: another
// transaction took the value (or created the account) in between. The next attempt's checks see it.
var errImportRace = errors.New("import raced another write")

// importAttempts bounds the attempts of one ImportUser that keeps losing races.
const importAttempts = 3

// ImportUser implements storage.Imports: one transaction that locks the account when it exists (as links
// and unlinks do), reads it, checks each value it does not hold yet against the other accounts, and writes.
// A value another transaction takes between the check and the write breaks a unique constraint, which rolls
// the whole transaction back; the import then runs again and reports the conflict its checks now find.
func (s *Store) ImportUser(ctx context.Context, in storage.ImportedUser) (storage.ImportOutcome, error) {
	want, err := in.Account()
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	if !isUUID(want.ID) {
		return 0, fmt.Errorf("postgres: import user: %w", errInvalidID)
	}
	var out storage.ImportOutcome
	for attempt := 1; ; attempt++ {
		err = retry(ctx, func() error {
			return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
				var err error
				out, err = importUser(ctx, tx, want)
				if uniqueConstraint(err) != "" {
					return fmt.Errorf("%w: %w", errImportRace, err)
				}
				return err
			})
		})
		if !errors.Is(err, errImportRace) || attempt == importAttempts || ctx.Err() != nil {
			break
		}
	}
	var conflict *storage.ImportConflict
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &conflict):
		return 0, err
	}
	return 0, wrap("import user", err)
}

// importUser is ImportUser's transaction.
func importUser(ctx context.Context, tx pgx.Tx, want *storage.User) (storage.ImportOutcome, error) {
	if _, err := tx.Exec(ctx, qLockUser, want.ID); err != nil {
		return 0, err
	}
	cur, err := scanUser(tx.QueryRow(ctx, qUserByID, want.ID))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		cur = nil
	case err != nil:
		return 0, err
	case storage.ImportMatches(cur, want):
		return storage.ImportUnchanged, nil
	}
	err = storage.CheckImport(cur, want, func(v storage.ImportValue) (string, error) {
		q := qImportHolderDevice
		switch c := columnOf(v.Kind); {
		case v.Kind == 0:
			q = `SELECT id::text FROM users WHERE username = $1`
		case c != nil:
			q = `SELECT id::text FROM users WHERE ` + c.column + ` = $1`
		}
		var id string
		err := tx.QueryRow(ctx, q, v.Value).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		return id, err
	})
	if err != nil {
		return 0, err
	}
	add, remove := storage.DeviceChanges(cur, want)
	// Empty identities are NULL, as everywhere in the store: NULLs never clash.
	q, out := qImportUpdate, storage.ImportUpdated
	if cur == nil {
		q, out = qImportInsert, storage.ImportCreated
	}
	_, err = tx.Exec(ctx, q, want.ID, want.Username, want.DisplayName, want.AvatarURL, want.LangTag,
		want.Location, want.Timezone, want.Metadata, nullUnless(want.Email != "", want.Email), want.Password,
		nullUnless(want.CustomID != "", want.CustomID), nullUnless(want.AppleID != "", want.AppleID),
		nullUnless(want.GoogleID != "", want.GoogleID), nullUnless(want.GameCenterID != "", want.GameCenterID),
		nullUnless(want.SteamID != "", want.SteamID), nullUnless(want.FacebookID != "", want.FacebookID),
		nullUnless(want.FacebookInstantGameID != "", want.FacebookInstantGameID),
		msTime(want.CreateTime), msTime(want.UpdateTime), optTime(want.VerifyTime), add, remove)
	if err != nil {
		return 0, err
	}
	return out, nil
}

// The statements of importUser. Both take the account's fields in importColumns's order as $1 to $20,
// the devices to add as $21 and those to remove as $22; the insert is for a new account, the update for
// an existing one, never the wallet, the ban or the session state. The devices are written after the
// account row because their WITH clause reads its RETURNING; the foreign key is checked at the end of the
// statement.
const (
	importColumns = `id, username, display_name, avatar_url, lang_tag, location, timezone, metadata, email, password,
		custom_id, apple_id, google_id, gamecenter_id, steam_id, facebook_id, facebook_instant_game_id,
		create_time, update_time, verify_time`
	importDevices = `), removed AS (
		DELETE FROM user_device WHERE user_id = $1 AND id = ANY($22::text[])
	)
	INSERT INTO user_device (id, user_id) SELECT d, u.id FROM u, unnest($21::text[]) AS d`
	qImportInsert = `WITH u AS (
		INSERT INTO users (` + importColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		RETURNING id` + importDevices
	qImportUpdate = `WITH u AS (
		UPDATE users SET (` + importColumns + `)
			= ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
		WHERE id = $1 RETURNING id` + importDevices
	qImportHolderDevice = `SELECT user_id::text FROM user_device WHERE id = $1`
)

// ImportCheckpoint implements storage.Imports.
func (s *Store) ImportCheckpoint(ctx context.Context, source string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `SELECT last_id FROM imports WHERE source = $1`, source).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return "", nil
	case err != nil:
		return "", wrap("import checkpoint", err)
	}
	return id, nil
}

// SetImportCheckpoint implements storage.Imports. The update time is the database's clock: it only tells an
// operator when the import last made progress.
func (s *Store) SetImportCheckpoint(ctx context.Context, source, lastID string) error {
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, `INSERT INTO imports (source, last_id, update_time) VALUES ($1, $2, now())
			ON CONFLICT ON CONSTRAINT imports_pkey DO UPDATE SET last_id = $2, update_time = now()`, source, lastID)
		return err
	})
	if err != nil {
		return wrap("set import checkpoint", err)
	}
	return nil
}
