// Package pgtest gives each test a fresh PostgreSQL database on the server named by LATCHKEY_TEST_POSTGRES;
// it is imported only by tests.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Environment variables read by NewDatabase.
const (
	// EnvServer holds the URL of a PostgreSQL server on which the user may CREATE DATABASE, such as
	// postgres://latchkey@127.0.0.1:5432/postgres?sslmode=disable.
	EnvServer = "LATCHKEY_TEST_POSTGRES"
	// EnvRequired set to "1" makes a missing EnvServer fail the tests instead of skipping them, so that CI
	// cannot pass without having run them.
	EnvRequired = "LATCHKEY_TEST_POSTGRES_REQUIRED"
)

// DatabasePrefix starts the name of every database NewDatabase creates, so that leftovers of a killed test
// run can be found and dropped.
const DatabasePrefix = "lk_test_"

// adminTimeout bounds creating or dropping one database.
const adminTimeout = 30 * time.Second

const howToRun = EnvServer + " is not set: these tests need a PostgreSQL server. ./scripts/test starts a " +
	"throwaway cluster and sets it; by hand, run `scripts/pg-cluster start DIR`, export " + EnvServer +
	" with the URL it prints, and stop the cluster afterwards with `scripts/pg-cluster stop DIR`."

// NewDatabase creates an empty database with a unique name on the EnvServer server, drops it when the test
// ends, and returns its URL (the server URL with the database name replaced). Without EnvServer it skips
// the test, or fails it when EnvRequired is "1".
func NewDatabase(t testing.TB) string {
	t.Helper()
	server := os.Getenv(EnvServer)
	if server == "" {
		if os.Getenv(EnvRequired) == "1" {
			t.Fatal(howToRun + " (" + EnvRequired + "=1 makes this an error.)")
		}
		t.Skip(howToRun)
	}
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// The value is not quoted: it may hold a password.
		t.Fatalf("pgtest: %s is not a postgres:// URL", EnvServer)
	}

	var b [8]byte
	rand.Read(b[:])
	name := DatabasePrefix + hex.EncodeToString(b[:])
	ident := pgx.Identifier{name}.Sanitize()
	if err := admin(server, "CREATE DATABASE "+ident); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		// FORCE ends connections a test left open (PostgreSQL 13 and later).
		if err := admin(server, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})

	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// admin runs one statement on a short-lived connection to the server's own database. Each call connects
// anew so that tests running in parallel share nothing.
func admin(server, statement string) error {
	ctx, cancel := context.WithTimeout(context.Background(), adminTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, statement)
	return err
}
