package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// userColumns selects a whole account, its device ids included, so that every lookup is one round trip.
// The devices come back as a JSON array because device ids are free text: no separator is safe for
// group_concat.
const userColumns = `u.id, u.username, u.display_name, u.avatar_url, u.lang_tag, u.location, u.timezone,
	u.metadata, u.wallet, coalesce(u.email, ''), u.password, coalesce(u.custom_id, ''),
	coalesce(u.apple_id, ''), coalesce(u.google_id, ''), coalesce(u.gamecenter_id, ''), coalesce(u.steam_id, ''),
	coalesce(u.facebook_id, ''), coalesce(u.facebook_instant_game_id, ''),
	u.create_time, u.update_time, coalesce(u.verify_time, 0), coalesce(u.disable_time, 0),
	(SELECT json_group_array(d.id ORDER BY d.id) FROM user_device d WHERE d.user_id = u.id)`

// userRow is a User with the scan targets that need converting. Scan's arguments escape to the heap, so
// allocating them together with the User costs one allocation instead of six.
type userRow struct {
	u                               storage.User
	create, update, verify, disable int64
	devices                         string
}

func scanUser(row rowScanner) (*storage.User, error) {
	r := new(userRow)
	u := &r.u
	err := row.Scan(&u.ID, &u.Username, &u.DisplayName, &u.AvatarURL, &u.LangTag, &u.Location, &u.Timezone,
		&u.Metadata, &u.Wallet, &u.Email, &u.Password, &u.CustomID,
		&u.AppleID, &u.GoogleID, &u.GameCenterID, &u.SteamID, &u.FacebookID, &u.FacebookInstantGameID,
		&r.create, &r.update, &r.verify, &r.disable, &r.devices)
	if err != nil {
		return nil, err
	}
	u.CreateTime, u.UpdateTime = fromMillis(r.create), fromMillis(r.update)
	u.VerifyTime, u.DisableTime = fromMillis(r.verify), fromMillis(r.disable)
	if u.Devices, err = parseDevices(r.devices); err != nil {
		return nil, err
	}
	return u, nil
}

// parseDevices decodes the json_group_array of device ids. When the text holds no escape (no id has a
// quote, backslash or control character, which is every real id), the ids are sliced out of it without a
// JSON decoder; anything else takes the general path.
func parseDevices(s string) ([]string, error) {
	if s == "[]" || s == "" {
		return nil, nil
	}
	if len(s) > 4 && s[0] == '[' && s[1] == '"' && s[len(s)-2] == '"' && s[len(s)-1] == ']' && !strings.ContainsRune(s, '\\') {
		// With no escapes in the text, the only quotes are the delimiters, so `","` separates ids.
		inner := s[2 : len(s)-2]
		out := make([]string, 0, strings.Count(inner, `","`)+1)
		for {
			id, rest, more := strings.Cut(inner, `","`)
			out = append(out, id)
			if !more {
				return out, nil
			}
			inner = rest
		}
	}
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("sqlite: decode devices: %w", err)
	}
	return out, nil
}

func (s *Store) userBy(ctx context.Context, id stmtID, what string, arg string) (*storage.User, error) {
	u, err := scanUser(s.read.stmt(ctx, id).QueryRowContext(ctx, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: user by %s: %w", what, err)
	}
	return u, nil
}

// UserByID implements storage.Users.
func (s *Store) UserByID(ctx context.Context, id string) (*storage.User, error) {
	return s.userBy(ctx, qUserByID, "id", id)
}

// UserByIdentity implements storage.Users.
func (s *Store) UserByIdentity(ctx context.Context, kind storage.IdentityKind, identity string) (*storage.User, error) {
	if kind != storage.IdentityDevice && columnOf(kind) == nil {
		return nil, fmt.Errorf("sqlite: user by identity: unknown kind %d", kind)
	}
	return s.userBy(ctx, identityStmt(kind), kind.String(), identity)
}

// UsersByIDs implements storage.Users. The ids and usernames travel as JSON arrays, which cannot hold
// invalid UTF-8; such a username, which no caller creates, is left out.
func (s *Store) UsersByIDs(ctx context.Context, ids, usernames []string) ([]storage.User, error) {
	usernames = slices.DeleteFunc(slices.Clone(usernames), func(name string) bool { return !utf8.ValidString(name) })
	if len(ids) == 0 && len(usernames) == 0 {
		return nil, nil
	}
	idsJSON, err := json.Marshal(ids)
	if err != nil {
		return nil, s.wrap("users by ids", err)
	}
	namesJSON, err := json.Marshal(usernames)
	if err != nil {
		return nil, s.wrap("users by ids", err)
	}
	users, err := queryAll(ctx, s.read.stmt(ctx, qUsersByIDs), func(row rowScanner, u *storage.User) error {
		got, err := scanUser(row)
		if err == nil {
			*u = *got
		}
		return err
	}, string(idsJSON), string(namesJSON))
	if err != nil {
		return nil, s.wrap("users by ids", err)
	}
	return users, nil
}

// UserByUsername implements storage.Users.
func (s *Store) UserByUsername(ctx context.Context, username string) (*storage.User, error) {
	return s.userBy(ctx, qUserByUsername, "username", username)
}

// CreateUser implements storage.Users. When both the username and the identity clash, ErrIdentityTaken wins:
// the caller can then sign in to the existing account, which is what a race for one identity needs.
func (s *Store) CreateUser(ctx context.Context, nu storage.NewUser) (*storage.User, error) {
	u := &storage.User{
		ID: nu.ID, Username: nu.Username, LangTag: "en", Metadata: "{}", Wallet: "{}",
		CreateTime: truncate(nu.Time), UpdateTime: truncate(nu.Time),
	}
	if nu.Kind != storage.IdentityDevice && columnOf(nu.Kind) == nil {
		return nil, fmt.Errorf("sqlite: create user: unknown identity kind %d", nu.Kind)
	}
	u.SetIdentity(nu.Kind, nu.Identity)
	var password any // NULL unless set
	if len(nu.Password) > 0 {
		u.Password = append([]byte(nil), nu.Password...)
		password = u.Password
	}

	// The identity goes to its column, or to the device insert; the other identity columns are NULL.
	args := make([]any, 0, 4+len(identityColumns))
	args = append(args, nu.ID, nu.Username, password, nu.Time.UnixMilli())
	for _, c := range identityColumns {
		var v any
		if c.kind == nu.Kind {
			v = nu.Identity
		}
		args = append(args, v)
	}
	err := s.commit.writeAll(ctx, func(w *wtx) error {
		_, err := w.stmt(qInsertUser).ExecContext(w.ctx, args...)
		if err == nil && nu.Kind == storage.IdentityDevice {
			_, err = w.stmt(qInsertDevice).ExecContext(w.ctx, nu.Identity, nu.ID)
		}
		if err == nil {
			return nil
		}
		switch col := uniqueColumn(err); {
		case identityConstraint(col):
			return storage.ErrIdentityTaken
		case col == "users.username":
			// SQLite reports the first violated constraint only; the identity may clash as well. The check
			// runs inside the write transaction, so it sees the state the insert saw.
			if _, ierr := scanUser(w.stmt(identityStmt(nu.Kind)).QueryRowContext(w.ctx, nu.Identity)); ierr == nil {
				return storage.ErrIdentityTaken
			}
			return storage.ErrUsernameTaken
		}
		return err
	})
	switch {
	case err == nil:
		return u, nil
	case errors.Is(err, storage.ErrIdentityTaken), errors.Is(err, storage.ErrUsernameTaken):
		return nil, err
	}
	return nil, s.wrap("create user", err)
}

// identityStmt returns the lookup of an account by an identity of kind, which must be known.
func identityStmt(kind storage.IdentityKind) stmtID {
	if c := columnOf(kind); c != nil {
		return c.userBy
	}
	return qUserByDevice
}

// DeleteUser implements storage.Users.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	return s.execOne(ctx, "delete user", qDeleteUser, id)
}

// UpdateProfile implements storage.Users. An empty update writes nothing and only checks that the account
// exists.
func (s *Store) UpdateProfile(ctx context.Context, id string, p storage.ProfileUpdate) error {
	if p.Empty() {
		var one int
		err := s.read.stmt(ctx, qUserExists).QueryRowContext(ctx, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return s.wrap("update profile", err)
		}
		return nil
	}
	var q strings.Builder
	args := make([]any, 0, 9)
	q.WriteString("UPDATE users SET update_time = ?")
	args = append(args, p.Time.UnixMilli())
	set := func(col string, v *string) {
		if v != nil {
			q.WriteString(", " + col + " = ?")
			args = append(args, *v)
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
	q.WriteString(" WHERE id = ?")
	args = append(args, id)
	err := s.commit.write(ctx, func(w *wtx) error {
		res, err := w.exec(q.String(), args...)
		if err != nil {
			if uniqueColumn(err) == "users.username" {
				return storage.ErrUsernameTaken
			}
			return err
		}
		return oneRow(res)
	})
	switch {
	case err == nil, errors.Is(err, storage.ErrUsernameTaken), errors.Is(err, storage.ErrNotFound):
		return err
	}
	return s.wrap("update profile", err)
}

// SetDisableTime implements storage.Users.
func (s *Store) SetDisableTime(ctx context.Context, id string, t time.Time) error {
	return s.execOne(ctx, "set disable time", qSetDisableTime, millis(t), id)
}

// execOne runs the write statement id, which must change one row: ErrNotFound when it changes none.
func (s *Store) execOne(ctx context.Context, op string, id stmtID, args ...any) error {
	err := s.commit.write(ctx, func(w *wtx) error {
		res, err := w.stmt(id).ExecContext(w.ctx, args...)
		if err != nil {
			return err
		}
		return oneRow(res)
	})
	if err == nil || errors.Is(err, storage.ErrNotFound) {
		return err
	}
	return s.wrap(op, err)
}

// oneRow turns an update that matched no row into ErrNotFound.
func oneRow(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}
