package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

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
	switch kind {
	case storage.IdentityDevice:
		return s.userBy(ctx, qUserByDevice, "device", identity)
	case storage.IdentityEmail:
		return s.userBy(ctx, qUserByEmail, "email", identity)
	case storage.IdentityCustom:
		return s.userBy(ctx, qUserByCustom, "custom id", identity)
	}
	return nil, fmt.Errorf("postgres: user by identity: unknown kind %d", kind)
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
	var email, customID, device, password any // NULL unless set
	switch nu.Kind {
	case storage.IdentityDevice:
		device, u.Devices = nu.Identity, []string{nu.Identity}
	case storage.IdentityEmail:
		email, u.Email = nu.Identity, nu.Identity
	case storage.IdentityCustom:
		customID, u.CustomID = nu.Identity, nu.Identity
	default:
		return nil, fmt.Errorf("postgres: create user: unknown identity kind %d", nu.Kind)
	}
	if len(nu.Password) > 0 {
		u.Password = append([]byte(nil), nu.Password...)
		password = u.Password
	}
	err := retry(ctx, func() error {
		_, err := s.pool.Exec(ctx, qCreateUser, nu.ID, nu.Username, email, password, customID, at, device)
		return err
	})
	if err == nil {
		return u, nil
	}
	switch uniqueConstraint(err) {
	case conUsersEmail, conUsersCustomID, conUserDevicePkey:
		return nil, storage.ErrIdentityTaken
	case conUsersUsername:
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
