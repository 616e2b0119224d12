// Package nakamatest creates PostgreSQL databases with Nakama's users and user_device tables, written from
// the facts of Nakama's schema (shared/nakama-sessions-spec.md section 14), for the import's tests; it is
// imported only by tests.
package nakamatest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
)

// Schema is Nakama's users and user_device tables with their constraint names, and the system user its
// migration inserts.
const Schema = `
CREATE TABLE users (
	id            UUID          NOT NULL PRIMARY KEY,
	username      VARCHAR(128)  NOT NULL CONSTRAINT users_username_key UNIQUE,
	display_name  VARCHAR(255),
	avatar_url    VARCHAR(512),
	lang_tag      VARCHAR(18)   NOT NULL DEFAULT 'en',
	location      VARCHAR(255),
	timezone      VARCHAR(255),
	metadata      JSONB         NOT NULL DEFAULT '{}',
	wallet        JSONB         NOT NULL DEFAULT '{}',
	email         VARCHAR(255)  CONSTRAINT users_email_key UNIQUE,
	password      BYTEA         CHECK (length(password) < 32000),
	facebook_id   VARCHAR(128)  CONSTRAINT users_facebook_id_key UNIQUE,
	google_id     VARCHAR(128)  CONSTRAINT users_google_id_key UNIQUE,
	gamecenter_id VARCHAR(128)  CONSTRAINT users_gamecenter_id_key UNIQUE,
	steam_id      VARCHAR(128)  CONSTRAINT users_steam_id_key UNIQUE,
	custom_id     VARCHAR(128)  CONSTRAINT users_custom_id_key UNIQUE,
	facebook_instant_game_id VARCHAR(128) CONSTRAINT users_facebook_instant_game_id_key UNIQUE,
	apple_id      VARCHAR(128)  CONSTRAINT users_apple_id_key UNIQUE,
	edge_count    INT           NOT NULL DEFAULT 0 CHECK (edge_count >= 0),
	create_time   TIMESTAMPTZ   NOT NULL DEFAULT now(),
	update_time   TIMESTAMPTZ   NOT NULL DEFAULT now(),
	verify_time   TIMESTAMPTZ   NOT NULL DEFAULT '1970-01-01 00:00:00 UTC',
	disable_time  TIMESTAMPTZ   NOT NULL DEFAULT '1970-01-01 00:00:00 UTC'
);
INSERT INTO users (id, username) VALUES ('00000000-0000-0000-0000-000000000000', '');
CREATE TABLE user_device (
	id                 VARCHAR(128) NOT NULL,
	user_id            UUID         NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	preferences        JSONB        NOT NULL DEFAULT '{}',
	push_token_android VARCHAR(512) NOT NULL DEFAULT '',
	push_token_ios     VARCHAR(512) NOT NULL DEFAULT '',
	push_token_huawei  VARCHAR(512) NOT NULL DEFAULT '',
	push_token_web     VARCHAR(512) NOT NULL DEFAULT '',
	push_token_amazon  VARCHAR(512) NOT NULL DEFAULT '',
	CONSTRAINT user_device_pkey PRIMARY KEY (id),
	CONSTRAINT user_device_user_id_id_key UNIQUE (user_id, id)
);`

// NewDatabase returns the URL of a fresh database (see pgtest) holding Schema.
func NewDatabase(t testing.TB) string {
	t.Helper()
	url := pgtest.NewDatabase(t)
	Exec(t, url, Schema)
	return url
}

// Exec runs SQL on the database at url, failing the test on error.
func Exec(t testing.TB, url, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("nakamatest: %v", err)
	}
}

// Fingerprint returns a digest of every row of users and user_device, to show a database was not written.
func Fingerprint(t testing.TB, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var users, devices string
	err = conn.QueryRow(ctx, `SELECT coalesce(md5(string_agg(u::text, '|' ORDER BY id)), '') FROM users u`).Scan(&users)
	if err == nil {
		err = conn.QueryRow(ctx, `SELECT coalesce(md5(string_agg(d::text, '|' ORDER BY id)), '') FROM user_device d`).Scan(&devices)
	}
	if err != nil {
		t.Fatal(err)
	}
	return users + devices
}

// Generate inserts n device accounts with ids after prefix-order (id i is a UUID built from i), each with
// one device, in multi-row INSERTs of at most 1000 rows, so that memory stays bounded.
func Generate(t testing.TB, url string, n int, password []byte) {
	t.Helper()
	const chunk = 1000
	for first := 0; first < n; first += chunk {
		last := min(first+chunk, n)
		var users, devices strings.Builder
		args := []any{password}
		users.WriteString(`INSERT INTO users (id, username, display_name, email, password, metadata) VALUES `)
		devices.WriteString(`INSERT INTO user_device (id, user_id) VALUES `)
		for i := first; i < last; i++ {
			if i > first {
				users.WriteString(",")
				devices.WriteString(",")
			}
			id := GeneratedID(i)
			fmt.Fprintf(&users, `('%s', 'gen%d', 'Player %d', 'gen%d@example.com', $1, '{"n": %d}')`, id, i, i, i, i)
			fmt.Fprintf(&devices, `('gen-device-%08d', '%s')`, i, id)
		}
		Exec(t, url, users.String(), args...)
		Exec(t, url, devices.String())
	}
}

// GeneratedID is the user id Generate gives account i.
func GeneratedID(i int) string {
	return fmt.Sprintf("a0000000-0000-4000-8000-%012d", i)
}
