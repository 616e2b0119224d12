package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// ImportUser implements storage.Imports. The read, the conflict checks and the writes are one operation of
// the single writer (see committer), so nothing changes between them: a value no other account held at the
// check cannot be taken before the write, and a conflict writes nothing. The operation runs inside a
// savepoint, so that a failure after its first write leaves nothing behind.
func (s *Store) ImportUser(ctx context.Context, in storage.ImportedUser) (storage.ImportOutcome, error) {
	want, err := in.Account()
	if err != nil {
		return 0, fmt.Errorf("sqlite: %w", err)
	}
	var out storage.ImportOutcome
	err = s.commit.writeAll(ctx, func(w *wtx) error {
		cur, err := scanUser(w.stmt(qUserByID).QueryRowContext(w.ctx, want.ID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			cur = nil
		case err != nil:
			return err
		case storage.ImportMatches(cur, want):
			out = storage.ImportUnchanged
			return nil
		}
		if err := storage.CheckImport(cur, want, func(v storage.ImportValue) (string, error) {
			return holder(w, v)
		}); err != nil {
			return err
		}
		out = storage.ImportUpdated
		if cur == nil {
			out = storage.ImportCreated
			if _, err := w.exec(`INSERT INTO users (id, username, create_time, update_time) VALUES (?, ?, 0, 0)`, want.ID, want.Username); err != nil {
				return err
			}
		}
		// Empty identities are NULL, as everywhere in the store: the unique indexes leave NULLs out.
		_, err = w.exec(`UPDATE users SET username = ?, display_name = ?, avatar_url = ?, lang_tag = ?,
			location = ?, timezone = ?, metadata = ?, email = ?, password = ?, custom_id = ?, apple_id = ?,
			google_id = ?, gamecenter_id = ?, steam_id = ?, facebook_id = ?, facebook_instant_game_id = ?,
			create_time = ?, update_time = ?, verify_time = ? WHERE id = ?`,
			want.Username, want.DisplayName, want.AvatarURL, want.LangTag, want.Location, want.Timezone,
			want.Metadata, null(want.Email), want.Password, null(want.CustomID), null(want.AppleID),
			null(want.GoogleID), null(want.GameCenterID), null(want.SteamID), null(want.FacebookID),
			null(want.FacebookInstantGameID), want.CreateTime.UnixMilli(), want.UpdateTime.UnixMilli(),
			millis(want.VerifyTime), want.ID)
		if err != nil {
			return err
		}
		add, remove := storage.DeviceChanges(cur, want)
		for _, d := range remove {
			if _, err := w.exec(`DELETE FROM user_device WHERE id = ? AND user_id = ?`, d, want.ID); err != nil {
				return err
			}
		}
		for _, d := range add {
			if _, err := w.stmt(qInsertDevice).ExecContext(w.ctx, d, want.ID); err != nil {
				return err
			}
		}
		return nil
	})
	var conflict *storage.ImportConflict
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &conflict):
		return 0, err
	}
	return 0, s.wrap("import user", err)
}

// holder returns the id of the account that holds v, "" when none.
func holder(w *wtx, v storage.ImportValue) (string, error) {
	var q string
	switch c := columnOf(v.Kind); {
	case v.Kind == 0:
		q = `SELECT id FROM users WHERE username = ?`
	case c != nil:
		q = `SELECT id FROM users WHERE ` + c.name + ` = ?`
	default:
		q = `SELECT user_id FROM user_device WHERE id = ?`
	}
	var id string
	err := w.tx.QueryRowContext(w.ctx, q, v.Value).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return id, err
}

// null returns v, or NULL for "".
func null(v string) any {
	if v == "" {
		return nil
	}
	return v
}

// ImportCheckpoint implements storage.Imports.
func (s *Store) ImportCheckpoint(ctx context.Context, source string) (string, error) {
	var id string
	err := s.read.db.QueryRowContext(ctx, `SELECT last_id FROM imports WHERE source = ?`, source).Scan(&id)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", nil
	case err != nil:
		return "", s.wrap("import checkpoint", err)
	}
	return id, nil
}

// SetImportCheckpoint implements storage.Imports. The update time is the database's clock: it only tells an
// operator when the import last made progress.
func (s *Store) SetImportCheckpoint(ctx context.Context, source, lastID string) error {
	err := s.commit.write(ctx, func(w *wtx) error {
		_, err := w.exec(`INSERT INTO imports (source, last_id, update_time)
			VALUES (?, ?, CAST(unixepoch('subsec') * 1000 AS INTEGER))
			ON CONFLICT (source) DO UPDATE SET last_id = excluded.last_id, update_time = excluded.update_time`,
			source, lastID)
		return err
	})
	if err != nil {
		return s.wrap("set import checkpoint", err)
	}
	return nil
}
