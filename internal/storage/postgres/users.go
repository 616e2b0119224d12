package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// userRow is a User with the scan targets that need converting, allocated together.
type userRow struct {
	u               storage.User
	verify, disable pgtype.Timestamptz
}

func scanUser(row pgx.Row) (*storage.User, error) {
	r := new(userRow)
	u := &r.u
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.AvatarURL, &u.LangTag, &u.Location, &u.Timezone,
		&u.Metadata, &u.Wallet, &u.Email, &u.Password, &u.CustomID,
		&u.AppleID, &u.GoogleID, &u.GameCenterID, &u.SteamID, &u.FacebookID, &u.FacebookInstantGameID,
		&u.CreateTime, &u.UpdateTime, &r.verify, &r.disable, &u.Devices)
	if err != nil {
		return nil, err
	}
	u.CreateTime, u.UpdateTime = u.CreateTime.UTC(), u.UpdateTime.UTC()
	u.VerifyTime, u.DisableTime = fromOptTime(r.verify), fromOptTime(r.disable)
	if len(u.Devices) == 0 {
		u.Devices = nil
	} else {
		slices.Sort(u.Devices)
	}
	return u, nil
}

// userBy runs one of the single-account lookups.
func (s *Store) userBy(ctx context.Context, query, what, arg string) (*storage.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, query, arg))
	switch {
	case err == nil:
		return u, nil
	case errors.Is(err, pgx.ErrNoRows), pgCode(err) == codeUntranslatable:
		// Text PostgreSQL cannot store (a NUL byte, invalid UTF-8) cannot name an account either.
		return nil, storage.ErrNotFound
	}
	return nil, wrap("user by "+what, err)
}

// UserByID implements storage.Users.
func (s *Store) UserByID(ctx context.Context, id string) (*storage.User, error) {
	if !isUUID(id) {
		return nil, storage.ErrNotFound
	}
	return s.userBy(ctx, qUserByID, "id", id)
}

// UserByIdentity implements storage.Users.
func (s *Store) UserByIdentity(ctx context.Context, kind storage.IdentityKind, identity string) (*storage.User, error) {
	if kind == storage.IdentityDevice {
		return s.userBy(ctx, qUserByDevice, "device", identity)
	}
	if c := columnOf(kind); c != nil {
		return s.userBy(ctx, c.userBy, kind.String(), identity)
	}
	return nil, fmt.Errorf("postgres: user by identity: unknown kind %d", kind)
}

// UsersByIDs implements storage.Users. Ids that are not UUIDs, and usernames that PostgreSQL text cannot
// hold (a NUL byte, invalid UTF-8), name no account and are left out of the query, which would fail on them.
func (s *Store) UsersByIDs(ctx context.Context, ids, usernames []string) ([]storage.User, error) {
	ids = slices.DeleteFunc(slices.Clone(ids), func(id string) bool { return !isUUID(id) })
	usernames = slices.DeleteFunc(slices.Clone(usernames), func(name string) bool {
		return !utf8.ValidString(name) || strings.IndexByte(name, 0) >= 0
	})
	if len(ids) == 0 && len(usernames) == 0 {
		return nil, nil
	}
	users, err := queryAll(ctx, s.pool, func(row pgx.Row, u *storage.User) error {
		got, err := scanUser(row)
		if err == nil {
			*u = *got
		}
		return err
	}, qUsersByIDs, ids, usernames)
	if err != nil {
		return nil, wrap("users by ids", err)
	}
	return users, nil
}

// UserByUsername implements storage.Users.
func (s *Store) UserByUsername(ctx context.Context, username string) (*storage.User, error) {
	return s.userBy(ctx, qUserByUsername, "username", username)
}

// CreateUser implements storage.Users. It is one statement, so one round trip, whatever the identity kind.
// When both the username and the identity clash, ErrIdentityTaken wins, as in the SQLite backend: the
// caller can then sign in to the existing account, which is what a race for one identity needs.
func (s *Store) CreateUser(ctx context.Context, nu storage.NewUser) (*storage.User, error) {
	if !isUUID(nu.ID) {
		return nil, fmt.Errorf("postgres: create user: %w", errInvalidID)
	}
	at := msTime(nu.Time)
	u := &storage.User{
		ID: strings.ToLower(nu.ID), Username: nu.Username, LangTag: "en", Metadata: "{}", Wallet: "{}",
		CreateTime: at, UpdateTime: at,
	}
	if nu.Kind != storage.IdentityDevice && columnOf(nu.Kind) == nil {
		return nil, fmt.Errorf("postgres: create user: unknown identity kind %d", nu.Kind)
	}
	u.SetIdentity(nu.Kind, nu.Identity)
	var password any // NULL unless set
	if len(nu.Password) > 0 {
		u.Password = append([]byte(nil), nu.Password...)
		password = u.Password
	}
	// The arguments of qCreateUser: the identity goes to its column, or to the device insert, and the
	// other identity columns are NULL.
	args := make([]any, 0, 5+len(identityColumns))
	args = append(args, nu.ID, nu.Username, password, at)
	for _, c := range identityColumns {
		args = append(args, nullUnless(c.kind == nu.Kind, nu.Identity))
	}
	args = append(args, nullUnless(nu.Kind == storage.IdentityDevice, nu.Identity))
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, qCreateUser, args...)
		return err
	})
	if err == nil {
		return u, nil
	}
	switch c := uniqueConstraint(err); {
	case identityConstraint(c):
		return nil, storage.ErrIdentityTaken
	case c == conUsersUsername:
		// PostgreSQL reports the first violation it meets, and the account row (with its username) is
		// inserted before the device row, so the identity may clash as well. The failed statement saw every
		// committed row that could clash with it (a unique check waits for the inserting transaction), so
		// this later read sees at least as much.
		switch _, ierr := s.UserByIdentity(ctx, nu.Kind, nu.Identity); {
		case ierr == nil:
			return nil, storage.ErrIdentityTaken
		case errors.Is(ierr, storage.ErrNotFound):
			return nil, storage.ErrUsernameTaken
		default:
			return nil, fmt.Errorf("postgres: create user: check identity after username clash: %w", ierr)
		}
	}
	return nil, wrap("create user", err)
}

// nullUnless returns v when set is true, and NULL otherwise.
func nullUnless(set bool, v string) any {
	if set {
		return v
	}
	return nil
}

// DeleteUser implements storage.Users.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	if !isUUID(id) {
		return storage.ErrNotFound
	}
	return s.execOne(ctx, "delete user", qDeleteUser, id)
}

// UpdateProfile implements storage.Users. An empty update writes nothing and only checks that the account
// exists.
func (s *Store) UpdateProfile(ctx context.Context, id string, p storage.ProfileUpdate) error {
	if !isUUID(id) {
		return storage.ErrNotFound
	}
	if p.Empty() {
		var exists bool
		if err := s.pool.QueryRow(ctx, qUserExists, id).Scan(&exists); err != nil {
			return wrap("update profile", err)
		}
		if !exists {
			return storage.ErrNotFound
		}
		return nil
	}
	// The statement lists only the fields that change. There are few combinations, so pgx's per-connection
	// statement cache holds them all.
	var q strings.Builder
	args := make([]any, 0, 9)
	q.WriteString("UPDATE users SET update_time = $1")
	args = append(args, msTime(p.Time))
	set := func(col string, v *string) {
		if v != nil {
			args = append(args, *v)
			q.WriteString(", " + col + " = $" + strconv.Itoa(len(args)))
		}
	}
	set("username", p.Username)
	set("display_name", p.DisplayName)
	set("avatar_url", p.AvatarURL)
	set("lang_tag", p.LangTag)
	set("location", p.Location)
	set("timezone", p.Timezone)
	if p.Metadata != nil {
		md := *p.Metadata
		if md == "" {
			md = "{}" // the contract's empty metadata
		}
		set("metadata", &md)
	}
	args = append(args, id)
	q.WriteString(" WHERE id = $" + strconv.Itoa(len(args)))
	var n int64
	err := retry(ctx, func() error {
		tag, err := s.pool.Exec(ctx, q.String(), args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		if uniqueConstraint(err) == conUsersUsername {
			return storage.ErrUsernameTaken
		}
		return wrap("update profile", err)
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// SetDisableTime implements storage.Users.
func (s *Store) SetDisableTime(ctx context.Context, id string, t time.Time) error {
	if !isUUID(id) {
		return storage.ErrNotFound
	}
	return s.execOne(ctx, "set disable time", qSetDisableTime, optTime(t), id)
}

// execOne runs a single-row update and turns one that matched no row into ErrNotFound.
func (s *Store) execOne(ctx context.Context, op, query string, args ...any) error {
	var n int64
	err := retry(ctx, func() error {
		tag, err := s.pool.Exec(ctx, query, args...)
		n = tag.RowsAffected()
		return err
	})
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}
