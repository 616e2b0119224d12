// Package nakamaimport copies the accounts of a Nakama database (PostgreSQL or CockroachDB) into Latchkey's
// store, reading Nakama's database only.
package nakamaimport

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkeyhq/latchkey/internal/storage"
)

// SystemUserID is the nil UUID of the system user Nakama's migration inserts; it is never imported.
const SystemUserID = "00000000-0000-0000-0000-000000000000"

// ConnString turns a Nakama database address into a pgx connection string: a postgres:// or
// postgresql:// URL is used as given; Nakama's own form, user:password@host:port/dbname (its
// database.address), gets the scheme, and the database nakama when it names none, as Nakama does.
func ConnString(address string) (string, error) {
	s := strings.TrimSpace(address)
	if s == "" {
		return "", fmt.Errorf("nakama address is empty")
	}
	bare := !strings.HasPrefix(s, "postgres://") && !strings.HasPrefix(s, "postgresql://")
	if bare {
		s = "postgresql://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		// The address is not repeated: it may hold a password.
		return "", fmt.Errorf("nakama address is neither a postgres:// URL nor user:password@host:port/dbname")
	}
	if bare && (u.Path == "" || u.Path == "/") {
		u.Path = "/nakama"
	}
	return u.String(), nil
}

// Source names a Nakama database for checkpoints: a hash of its address without the password, so that a
// changed password keeps the checkpoint and no password is stored.
func Source(connString string) string {
	u, err := url.Parse(connString)
	if err != nil {
		return "nakama:" + hash(connString)
	}
	if u.User != nil {
		u.User = url.User(u.User.Username())
	}
	q := u.Query()
	q.Del("password")
	u.RawQuery = q.Encode()
	return "nakama:" + hash(u.String())
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

// Account is one Nakama account: the fields Latchkey imports and whether Nakama has it banned.
type Account struct {
	storage.ImportedUser
	Banned bool
}

// reader pages through Nakama's users in id order over one connection, each page in a read-only
// transaction.
type reader struct {
	conn *pgx.Conn
}

// openReader connects to Nakama's database. The session is made read-only too, so that nothing this
// package runs there can write, whatever the transaction says.
func openReader(ctx context.Context, connString string) (*reader, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, fmt.Errorf("nakama address: %w", redact(err))
	}
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to nakama's database %s:%d/%s: %w", cfg.Host, cfg.Port, cfg.Database, redact(err))
	}
	return &reader{conn: conn}, nil
}

// redact drops the text of a connection error that could quote the connection string.
func redact(err error) error {
	if strings.Contains(err.Error(), "://") || strings.Contains(err.Error(), "password=") {
		return fmt.Errorf("invalid connection string")
	}
	return err
}

func (r *reader) Close() error { return r.conn.Close(context.Background()) }

const selectUsers = `SELECT id::text, username, coalesce(display_name, ''), coalesce(avatar_url, ''),
	coalesce(lang_tag, ''), coalesce(location, ''), coalesce(timezone, ''), coalesce(metadata::text, '{}'),
	coalesce(email, ''), password, coalesce(custom_id, ''), coalesce(apple_id, ''), coalesce(facebook_id, ''),
	coalesce(facebook_instant_game_id, ''), coalesce(google_id, ''), coalesce(gamecenter_id, ''),
	coalesce(steam_id, ''), create_time, update_time, verify_time, disable_time
	FROM users `

// page returns up to limit accounts with ids after after ("" = from the first, the system user included)
// in id order, with their devices.
func (r *reader) page(ctx context.Context, after string, limit int) ([]Account, error) {
	tx, err := r.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fmt.Errorf("reading nakama's users: %w", err)
	}
	defer tx.Rollback(context.Background())
	var rows pgx.Rows
	if after == "" {
		rows, err = tx.Query(ctx, selectUsers+"ORDER BY id LIMIT $1", limit)
	} else {
		rows, err = tx.Query(ctx, selectUsers+"WHERE id > $1::uuid ORDER BY id LIMIT $2", after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("reading nakama's users: %w", err)
	}
	accounts := make([]Account, 0, limit)
	index := make(map[string]int, limit)
	for rows.Next() {
		var a Account
		u := &a.ImportedUser
		var verify, disable time.Time
		if err := rows.Scan(&u.ID, &u.Username, &u.DisplayName, &u.AvatarURL, &u.LangTag, &u.Location,
			&u.Timezone, &u.Metadata, &u.Email, &u.Password, &u.CustomID, &u.AppleID, &u.FacebookID,
			&u.FacebookInstantGameID, &u.GoogleID, &u.GameCenterID, &u.SteamID, &u.CreateTime, &u.UpdateTime,
			&verify, &disable); err != nil {
			return nil, fmt.Errorf("reading nakama's users: %w", err)
		}
		u.Email = strings.ToLower(u.Email)
		if len(u.Password) == 0 {
			u.Password = nil
		}
		u.CreateTime, u.UpdateTime = u.CreateTime.UTC(), u.UpdateTime.UTC()
		// Nakama stores "never" as the epoch, not NULL.
		if verify.After(time.Unix(0, 0)) {
			u.VerifyTime = verify.UTC()
		}
		a.Banned = disable.After(time.Unix(0, 0))
		index[u.ID] = len(accounts)
		accounts = append(accounts, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading nakama's users: %w", err)
	}
	if len(accounts) == 0 {
		return nil, nil
	}
	ids := make([]string, len(accounts))
	for i, a := range accounts {
		ids[i] = a.ID
	}
	drows, err := tx.Query(ctx, `SELECT user_id::text, id FROM user_device WHERE user_id = ANY($1::uuid[]) ORDER BY user_id, id`, ids)
	if err != nil {
		return nil, fmt.Errorf("reading nakama's devices: %w", err)
	}
	for drows.Next() {
		var userID, device string
		if err := drows.Scan(&userID, &device); err != nil {
			return nil, fmt.Errorf("reading nakama's devices: %w", err)
		}
		if i, ok := index[userID]; ok {
			accounts[i].Devices = append(accounts[i].Devices, device)
		}
	}
	if err := drows.Err(); err != nil {
		return nil, fmt.Errorf("reading nakama's devices: %w", err)
	}
	return accounts, tx.Commit(ctx)
}
