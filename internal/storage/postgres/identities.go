package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// identityColumn is a users column that holds one kind of identity, with the statements that use it.
type identityColumn struct {
	kind   storage.IdentityKind
	column string
	// constraint is the column's UNIQUE constraint, users_<column>_key.
	constraint string
	// userBy finds the account by the identity; link and unlink take the arguments of qLinkDevice and
	// qUnlinkDevice.
	userBy, link, unlink string
}

// identityColumns lists the identity kinds held in a users column, every kind but IdentityDevice (devices
// are rows of user_device), in the order qCreateUser lists the columns.
var identityColumns = []identityColumn{
	newIdentityColumn(storage.IdentityEmail, "email"),
	newIdentityColumn(storage.IdentityCustom, "custom_id"),
	newIdentityColumn(storage.IdentityApple, "apple_id"),
	newIdentityColumn(storage.IdentityGoogle, "google_id"),
	newIdentityColumn(storage.IdentityGameCenter, "gamecenter_id"),
	newIdentityColumn(storage.IdentitySteam, "steam_id"),
	newIdentityColumn(storage.IdentityFacebook, "facebook_id"),
	newIdentityColumn(storage.IdentityFacebookInstantGame, "facebook_instant_game_id"),
}

// newIdentityColumn builds the statements of one identity column. The email's password is set and
// cleared with it: a password without an email cannot be used, and an email without one cannot either.
func newIdentityColumn(kind storage.IdentityKind, column string) identityColumn {
	password, noPassword := "", ""
	if kind == storage.IdentityEmail {
		password, noPassword = ", password = $4", ", password = NULL"
	}
	return identityColumn{
		kind:       kind,
		column:     column,
		constraint: "users_" + column + "_key",
		userBy:     `SELECT ` + userColumns + ` FROM users u WHERE u.` + column + ` = $1`,
		link:       `UPDATE users SET ` + column + ` = $2` + password + `, update_time = $3 WHERE id = $1`,
		unlink: `UPDATE users SET ` + column + ` = NULL` + noPassword + `, update_time = $3
			WHERE id = $1 AND ` + column + ` = $2`,
	}
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

// identityConstraint reports whether a unique constraint keeps an identity on one account.
func identityConstraint(name string) bool {
	if name == conUserDevicePkey {
		return true
	}
	for _, c := range identityColumns {
		if c.constraint == name {
			return true
		}
	}
	return false
}

// withLockedUser runs fn in a transaction that holds the account's row lock, on the account as it stands
// once the lock is held, and returns ErrNotFound for an unknown id and ErrIdentityTaken when fn breaks an
// identity's unique constraint.
//
// The account is read by a statement of its own, after the lock: under READ COMMITTED each statement sees
// what was committed before it began, so the read sees everything the previous holder of the lock did,
// its devices included. (A statement that waits for a row lock re-reads that row only, which is why one
// statement cannot both lock and read.) Every link and unlink takes the lock, so they apply one after
// another, each to the account as the one before left it: two unlinks of its last two identities cannot
// both see the other identity still there.
func (s *Store) withLockedUser(ctx context.Context, op, id string, fn func(tx pgx.Tx, u *storage.User) error) error {
	if !isUUID(id) {
		return storage.ErrNotFound
	}
	err := retry(ctx, func() error {
		return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
			tag, err := tx.Exec(ctx, qLockUser, id)
			if err != nil {
				return err
			}
			if tag.RowsAffected() == 0 {
				return storage.ErrNotFound
			}
			u, err := scanUser(tx.QueryRow(ctx, qUserByID, id))
			if err != nil {
				return err
			}
			return fn(tx, u)
		})
	})
	switch {
	case err == nil, errors.Is(err, storage.ErrNotFound), errors.Is(err, storage.ErrLastIdentity):
		return err
	case identityConstraint(uniqueConstraint(err)):
		return storage.ErrIdentityTaken
	}
	return wrap(op, err)
}

// LinkIdentity implements storage.Users. It is a short transaction, which takes the account's row lock.
func (s *Store) LinkIdentity(ctx context.Context, userID string, kind storage.IdentityKind, identity string, password []byte, at time.Time) error {
	if err := storage.CheckLink(kind, identity, password); err != nil {
		return fmt.Errorf("postgres: link identity: %w", err)
	}
	args := []any{userID, identity, msTime(at)}
	if kind == storage.IdentityEmail {
		args = append(args, password)
	}
	return s.withLockedUser(ctx, "link identity", userID, func(tx pgx.Tx, u *storage.User) error {
		var err error
		switch {
		case kind != storage.IdentityDevice:
			_, err = tx.Exec(ctx, columnOf(kind).link, args...)
		case u.Holds(kind, identity):
			_, err = tx.Exec(ctx, qTouchUser, userID, msTime(at))
		default:
			_, err = tx.Exec(ctx, qLinkDevice, args...)
		}
		return err
	})
}

// UnlinkIdentity implements storage.Users. It is a short transaction, which takes the account's row lock.
func (s *Store) UnlinkIdentity(ctx context.Context, userID string, kind storage.IdentityKind, identity string, at time.Time) error {
	return s.withLockedUser(ctx, "unlink identity", userID, func(tx pgx.Tx, u *storage.User) error {
		if err := u.CheckUnlink(kind, identity); err != nil {
			return err
		}
		q := qUnlinkDevice
		if kind != storage.IdentityDevice {
			q = columnOf(kind).unlink
		}
		_, err := tx.Exec(ctx, q, userID, identity, msTime(at))
		return err
	})
}
