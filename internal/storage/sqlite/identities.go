package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// identityColumn is a users column that holds one kind of identity.
type identityColumn struct {
	kind   storage.IdentityKind
	name   string
	userBy stmtID // finds the account by the identity
}

// identityColumns lists the identity kinds held in a users column, every kind but IdentityDevice (devices
// are rows of user_device), in the order qInsertUser lists the columns.
var identityColumns = []identityColumn{
	{storage.IdentityEmail, "email", qUserByEmail},
	{storage.IdentityCustom, "custom_id", qUserByCustom},
	{storage.IdentityApple, "apple_id", qUserByApple},
	{storage.IdentityGoogle, "google_id", qUserByGoogle},
	{storage.IdentityGameCenter, "gamecenter_id", qUserByGameCenter},
	{storage.IdentitySteam, "steam_id", qUserBySteam},
	{storage.IdentityFacebook, "facebook_id", qUserByFacebook},
	{storage.IdentityFacebookInstantGame, "facebook_instant_game_id", qUserByFacebookInstantGame},
}

// userByColumn is the lookup of an account by an identity column.
func userByColumn(column string) string {
	return `SELECT ` + userColumns + ` FROM users u WHERE u.` + column + ` = ?`
}

// columnOf returns the column that holds identities of kind, or nil for IdentityDevice and unknown kinds.
func columnOf(kind storage.IdentityKind) *identityColumn {
	for i := range identityColumns {
		if identityColumns[i].kind == kind {
			return &identityColumns[i]
		}
	}
	return nil
}

// identityConstraint reports whether the table.column of a unique violation keeps an identity on one
// account.
func identityConstraint(column string) bool {
	if column == "user_device.id" {
		return true
	}
	for _, c := range identityColumns {
		if column == "users."+c.name {
			return true
		}
	}
	return false
}

// withUser runs fn in a write transaction on the account as it stands, and returns ErrNotFound for an
// unknown id and ErrIdentityTaken when fn breaks an identity's uniqueness. SQLite runs one write
// transaction at a time, and the read and fn's writes are one operation of it (see committer), so nothing
// changes the account between them: two unlinks of its last two identities cannot both see the other
// identity still there.
func (s *Store) withUser(ctx context.Context, op, id string, fn func(w *wtx, u *storage.User) error) error {
	err := s.commit.write(ctx, func(w *wtx) error {
		u, err := scanUser(w.stmt(qUserByID).QueryRowContext(w.ctx, id))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return storage.ErrNotFound
		case err != nil:
			return err
		}
		err = fn(w, u)
		if identityConstraint(uniqueColumn(err)) {
			return storage.ErrIdentityTaken
		}
		return err
	})
	switch {
	case err == nil, errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrLastIdentity), errors.Is(err, storage.ErrIdentityTaken):
		return err
	}
	return s.wrap(op, err)
}

// LinkIdentity implements storage.Users.
func (s *Store) LinkIdentity(ctx context.Context, userID string, kind storage.IdentityKind, identity string, password []byte, at time.Time) error {
	if err := storage.CheckLink(kind, identity, password); err != nil {
		return s.wrap("link identity", err)
	}
	return s.withUser(ctx, "link identity", userID, func(w *wtx, u *storage.User) error {
		var err error
		switch c := columnOf(kind); {
		case c == nil: // a device, which the account may hold already
			if !u.Holds(kind, identity) {
				_, err = w.exec(`INSERT INTO user_device (id, user_id) VALUES (?, ?)`, identity, userID)
			}
		case kind == storage.IdentityEmail:
			_, err = w.exec(`UPDATE users SET email = ?, password = ? WHERE id = ?`, identity, password, userID)
		default:
			_, err = w.exec(`UPDATE users SET `+c.name+` = ? WHERE id = ?`, identity, userID)
		}
		if err != nil {
			return err
		}
		return touch(w, userID, at)
	})
}

// UnlinkIdentity implements storage.Users.
func (s *Store) UnlinkIdentity(ctx context.Context, userID string, kind storage.IdentityKind, identity string, at time.Time) error {
	return s.withUser(ctx, "unlink identity", userID, func(w *wtx, u *storage.User) error {
		if err := u.CheckUnlink(kind, identity); err != nil {
			return err
		}
		var err error
		switch c := columnOf(kind); {
		case c == nil:
			_, err = w.exec(`DELETE FROM user_device WHERE id = ?`, identity)
		case kind == storage.IdentityEmail:
			// A password without an email cannot be used.
			_, err = w.exec(`UPDATE users SET email = NULL, password = NULL WHERE id = ?`, userID)
		default:
			_, err = w.exec(`UPDATE users SET `+c.name+` = NULL WHERE id = ?`, userID)
		}
		if err != nil {
			return err
		}
		return touch(w, userID, at)
	})
}

// touch sets the account's update_time.
func touch(w *wtx, userID string, at time.Time) error {
	_, err := w.exec(`UPDATE users SET update_time = ? WHERE id = ?`, at.UnixMilli(), userID)
	return err
}
