package nakamaimport_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/nakamaimport"
	"github.com/latchkeyhq/latchkey/internal/nakamaimport/nakamatest"
	"github.com/latchkeyhq/latchkey/internal/server"
	"github.com/latchkeyhq/latchkey/internal/servertest"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/storage/pgtest"
	"golang.org/x/crypto/bcrypt"
)

// The fixture's accounts, in id order (the import's order).
const (
	idDevice     = "10000000-0000-4000-8000-000000000001"
	idEmail      = "10000000-0000-4000-8000-000000000002"
	idCustom     = "10000000-0000-4000-8000-000000000003"
	idApple      = "10000000-0000-4000-8000-000000000004"
	idGoogle     = "10000000-0000-4000-8000-000000000005"
	idGameCenter = "10000000-0000-4000-8000-000000000006"
	idSteam      = "10000000-0000-4000-8000-000000000007"
	idFacebook   = "10000000-0000-4000-8000-000000000008"
	idInstant    = "10000000-0000-4000-8000-000000000009"
	idBanned     = "10000000-0000-4000-8000-000000000010"
	idClash      = "10000000-0000-4000-8000-000000000011"
	idLater      = "10000000-0000-4000-8000-000000000012"
	importable   = 10 // the fixture's accounts but the system user and the clash
)

var (
	created  = time.Date(2021, 3, 4, 5, 6, 7, 123456000, time.UTC) // Nakama keeps microseconds, Latchkey milliseconds
	updated  = time.Date(2024, 1, 2, 3, 4, 5, 654000000, time.UTC)
	verified = time.Date(2022, 6, 7, 8, 9, 10, 0, time.UTC)
)

// fill writes the fixture into a Nakama database: one account per identity kind, a banned one, and one
// whose username a Latchkey account already has.
func fill(t *testing.T, url string, hash []byte) {
	t.Helper()
	nakamatest.Exec(t, url, `INSERT INTO users (id, username, display_name, avatar_url, lang_tag, location, timezone,
		metadata, create_time, update_time, verify_time) VALUES ($1, 'dev_player', 'Dev Player', 'https://a/1.png',
		'fr', 'Lyon', 'Europe/Paris', '{"level": 3}', $2, $3, $4)`, idDevice, created, updated, verified)
	nakamatest.Exec(t, url, `INSERT INTO user_device (id, user_id) VALUES ('device-aaaa-0001', $1), ('device-aaaa-0002', $1)`, idDevice)
	nakamatest.Exec(t, url, `INSERT INTO users (id, username, email, password, create_time, update_time)
		VALUES ($1, 'mail_player', 'player@example.com', $2, $3, $4)`, idEmail, hash, created, updated)
	for _, a := range []struct{ id, column, value string }{
		{idCustom, "custom_id", "custom-id-0003"},
		{idApple, "apple_id", "apple.000004"},
		{idGoogle, "google_id", "google-000005"},
		{idGameCenter, "gamecenter_id", "G:000006"},
		{idSteam, "steam_id", "76561198000000007"},
		{idFacebook, "facebook_id", "fb-000008"},
		{idInstant, "facebook_instant_game_id", "fbig-000009"},
	} {
		nakamatest.Exec(t, url, fmt.Sprintf(`INSERT INTO users (id, username, %s, create_time, update_time)
			VALUES ($1, $2, $3, $4, $5)`, a.column), a.id, "p_"+a.column, a.value, created, updated)
	}
	nakamatest.Exec(t, url, `INSERT INTO users (id, username, disable_time, create_time, update_time)
		VALUES ($1, 'banned_player', now(), $2, $3)`, idBanned, created, updated)
	nakamatest.Exec(t, url, `INSERT INTO user_device (id, user_id) VALUES ('device-banned-0010', $1)`, idBanned)
	nakamatest.Exec(t, url, `INSERT INTO users (id, username, create_time, update_time)
		VALUES ($1, 'taken_name', $2, $3)`, idClash, created, updated)
}

// backends lists Latchkey's stores the import is tested into.
var backends = []struct {
	name   string
	config func(t testing.TB) config.Config
}{
	{"sqlite", servertest.Config},
	{"postgres", func(t testing.TB) config.Config {
		cfg := servertest.Config(t)
		cfg.Database.Address = config.StringList{pgtest.NewDatabase(t)}
		return cfg
	}},
}

type env struct {
	nakama string
	srv    *server.Server
	base   string
	clash  string // the Latchkey account that has the username taken_name
}

func setup(t *testing.T, cfg config.Config) *env {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("password-0002"), 4)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{nakama: nakamatest.NewDatabase(t)}
	fill(t, e.nakama, hash)
	e.srv, e.base = servertest.Start(t, cfg, server.Options{})
	res, err := e.srv.Accounts.AuthenticateDevice(context.Background(), "latchkey-device-0001", "taken_name", true)
	if err != nil {
		t.Fatal(err)
	}
	e.clash = res.User.ID
	return e
}

func (e *env) run(t *testing.T, o nakamaimport.Options) nakamaimport.Summary {
	t.Helper()
	o.Address = e.nakama
	s, err := nakamaimport.New(e.srv.Store(), e.srv.Sessions).Run(context.Background(), o)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return s
}

type counts struct{ Created, Updated, Unchanged, Banned, Unbanned, Skipped, Conflicts int }

func countsOf(s nakamaimport.Summary) counts {
	return counts{s.Created, s.Updated, s.Unchanged, s.Banned, s.Unbanned, s.Skipped, s.ConflictCount}
}

func wantCounts(t *testing.T, what string, s nakamaimport.Summary, want counts) {
	t.Helper()
	if got := countsOf(s); got != want {
		t.Errorf("%s: counts %+v, want %+v", what, got, want)
	}
	if !s.Complete {
		t.Errorf("%s: not complete", what)
	}
}

// authenticate signs in over HTTP and returns the status and the token's user id.
func (e *env) authenticate(t *testing.T, kind, body string) (int, string) {
	t.Helper()
	a := servertest.Do(t, e.base, "POST", "/v2/account/authenticate/"+kind+"?create=false", servertest.Basic("defaultkey"), body)
	token, _ := a.JSON["token"].(string)
	if a.Status != http.StatusOK {
		return a.Status, ""
	}
	uid, _ := servertest.Claims(t, token)["uid"].(string)
	return a.Status, uid
}

func TestImport(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			e := setup(t, b.config(t))
			ctx := context.Background()
			st := e.srv.Store()
			before := nakamatest.Fingerprint(t, e.nakama)

			first := counts{Created: importable, Banned: 1, Skipped: 1, Conflicts: 1}
			dry := e.run(t, nakamaimport.Options{DryRun: true})
			wantCounts(t, "dry run", dry, first)
			if _, err := st.UserByID(ctx, idDevice); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("after a dry run UserByID = %v, want ErrNotFound", err)
			}

			s := e.run(t, nakamaimport.Options{})
			wantCounts(t, "first import", s, first)
			want := []nakamaimport.Conflict{{UserID: idClash, Field: "username", OtherUserID: e.clash}}
			if !slices.Equal(s.Conflicts, want) {
				t.Errorf("conflicts %+v, want %+v", s.Conflicts, want)
			}

			u, err := st.UserByID(ctx, idDevice)
			if err != nil {
				t.Fatal(err)
			}
			if u.Username != "dev_player" || u.DisplayName != "Dev Player" || u.AvatarURL != "https://a/1.png" ||
				u.LangTag != "fr" || u.Location != "Lyon" || u.Timezone != "Europe/Paris" ||
				u.Metadata != `{"level": 3}` || !slices.Equal(u.Devices, []string{"device-aaaa-0001", "device-aaaa-0002"}) ||
				!u.CreateTime.Equal(created.Truncate(time.Millisecond)) || !u.UpdateTime.Equal(updated) || !u.VerifyTime.Equal(verified) || u.Banned() {
				t.Errorf("device account imported as %+v", u)
			}
			for _, id := range []struct {
				kind  storage.IdentityKind
				value string
				user  string
			}{
				{storage.IdentityDevice, "device-aaaa-0002", idDevice},
				{storage.IdentityEmail, "player@example.com", idEmail},
				{storage.IdentityCustom, "custom-id-0003", idCustom},
				{storage.IdentityApple, "apple.000004", idApple},
				{storage.IdentityGoogle, "google-000005", idGoogle},
				{storage.IdentityGameCenter, "G:000006", idGameCenter},
				{storage.IdentitySteam, "76561198000000007", idSteam},
				{storage.IdentityFacebook, "fb-000008", idFacebook},
				{storage.IdentityFacebookInstantGame, "fbig-000009", idInstant},
			} {
				got, err := st.UserByIdentity(ctx, id.kind, id.value)
				if err != nil || got.ID != id.user {
					t.Errorf("UserByIdentity(%s) = %v, %v; want %s", id.kind, got, err, id.user)
					continue
				}
				if !got.CreateTime.Equal(created.Truncate(time.Millisecond)) || got.VerifyTime.IsZero() != (id.user != idDevice) {
					t.Errorf("%s account times: created %v verified %v", id.kind, got.CreateTime, got.VerifyTime)
				}
			}
			if _, err := st.UserByID(ctx, nakamaimport.SystemUserID); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("system user: %v, want ErrNotFound", err)
			}
			if _, err := st.UserByID(ctx, idClash); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("clashing account: %v, want ErrNotFound", err)
			}
			if other, err := st.UserByUsername(ctx, "taken_name"); err != nil || other.ID != e.clash {
				t.Errorf("taken_name = %v, %v; want the Latchkey account %s", other, err, e.clash)
			}

			// Players sign in with what they used with Nakama and get the same account.
			if status, uid := e.authenticate(t, "device", `{"id": "device-aaaa-0001"}`); uid != idDevice {
				t.Errorf("device sign-in: %d %s, want %s", status, uid, idDevice)
			}
			if status, uid := e.authenticate(t, "email", `{"email": "Player@Example.com", "password": "password-0002"}`); uid != idEmail {
				t.Errorf("email sign-in: %d %s, want %s", status, uid, idEmail)
			}
			if status, _ := e.authenticate(t, "device", `{"id": "device-banned-0010"}`); status != http.StatusForbidden {
				t.Errorf("banned account's sign-in: %d, want 403", status)
			}

			again := e.run(t, nakamaimport.Options{})
			wantCounts(t, "second import", again, counts{Unchanged: importable, Skipped: 1, Conflicts: 1})

			if after := nakamatest.Fingerprint(t, e.nakama); after != before {
				t.Error("the import changed Nakama's database")
			}
			// Changes in Nakama while both run: a new device, a new display name, an unban, a new account.
			nakamatest.Exec(t, e.nakama, `INSERT INTO user_device (id, user_id) VALUES ('device-aaaa-0003', $1)`, idDevice)
			nakamatest.Exec(t, e.nakama, `UPDATE users SET display_name = 'Renamed', update_time = now() WHERE id = $1`, idCustom)
			nakamatest.Exec(t, e.nakama, `UPDATE users SET disable_time = '1970-01-01 00:00:00 UTC' WHERE id = $1`, idBanned)
			nakamatest.Exec(t, e.nakama, `INSERT INTO users (id, username) VALUES ($1, 'late_player')`, idLater)
			before = nakamatest.Fingerprint(t, e.nakama)
			changes := counts{Created: 1, Updated: 2, Unchanged: importable - 2, Unbanned: 1, Skipped: 1, Conflicts: 1}
			wantCounts(t, "dry run after changes", e.run(t, nakamaimport.Options{DryRun: true}), changes)
			wantCounts(t, "import after changes", e.run(t, nakamaimport.Options{}), changes)
			if u, err := st.UserByID(ctx, idDevice); err != nil || len(u.Devices) != 3 {
				t.Errorf("device account after a new device: %v, %v", u, err)
			}
			if u, err := st.UserByID(ctx, idCustom); err != nil || u.DisplayName != "Renamed" {
				t.Errorf("renamed account: %v, %v", u, err)
			}
			if status, uid := e.authenticate(t, "device", `{"id": "device-banned-0010"}`); uid != idBanned {
				t.Errorf("unbanned account's sign-in: %d %s", status, uid)
			}
			wantCounts(t, "import without changes", e.run(t, nakamaimport.Options{}),
				counts{Unchanged: importable + 1, Skipped: 1, Conflicts: 1})
			if after := nakamatest.Fingerprint(t, e.nakama); after != before {
				t.Error("the import changed Nakama's database")
			}
		})
	}
}

// TestImportKeepsAdminBan checks that an account an admin banned in Latchkey stays banned when Nakama has
// it unbanned: the import lifts only its own bans.
func TestImportKeepsAdminBan(t *testing.T) {
	e := setup(t, servertest.Config(t))
	e.run(t, nakamaimport.Options{})
	if _, err := e.srv.Sessions.Ban(context.Background(), idDevice, "admin command"); err != nil {
		t.Fatal(err)
	}
	s := e.run(t, nakamaimport.Options{})
	if s.Unbanned != 0 {
		t.Errorf("unbanned %d, want 0", s.Unbanned)
	}
	if u, err := e.srv.Store().UserByID(context.Background(), idDevice); err != nil || !u.Banned() {
		t.Errorf("admin-banned account after import: %v, %v", u, err)
	}
}

func TestImportResumes(t *testing.T) {
	e := setup(t, servertest.Config(t))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var batches []string
	im := nakamaimport.New(e.srv.Store(), e.srv.Sessions)
	s, err := im.Run(ctx, nakamaimport.Options{Address: e.nakama, Batch: 2, AfterBatch: func(last string) {
		batches = append(batches, last)
		cancel()
	}})
	if !errors.Is(err, context.Canceled) || s.Complete {
		t.Fatalf("interrupted import: %v (complete %v), want context.Canceled", err, s.Complete)
	}
	if !slices.Equal(batches, []string{idDevice}) || s.Read != 2 || s.Skipped != 1 || s.Created != 1 {
		t.Fatalf("interrupted after %v with %+v", batches, countsOf(s))
	}
	if cp, err := e.srv.Store().ImportCheckpoint(context.Background(), s.Source); err != nil || cp != idDevice {
		t.Fatalf("checkpoint %q, %v; want %s", cp, err, idDevice)
	}

	resumed := e.run(t, nakamaimport.Options{Batch: 2})
	if resumed.From != idDevice || resumed.Read != 10 || resumed.Created != importable-1 || !resumed.Complete {
		t.Errorf("resumed import: from %q, read %d, %+v", resumed.From, resumed.Read, countsOf(resumed))
	}
	for _, id := range []string{idDevice, idEmail, idBanned} {
		if _, err := e.srv.Store().UserByID(context.Background(), id); err != nil {
			t.Errorf("account %s after the resumed import: %v", id, err)
		}
	}
	// A complete run starts the next one over, so that it sees changes to the accounts imported first.
	full := e.run(t, nakamaimport.Options{Batch: 2})
	if full.From != "" || full.Read != 12 {
		t.Errorf("run after a complete one: from %q, read %d; want from the start, 12", full.From, full.Read)
	}
	// --restart ignores an interrupted run's checkpoint.
	if err := e.srv.Store().SetImportCheckpoint(context.Background(), full.Source, idBanned); err != nil {
		t.Fatal(err)
	}
	if r := e.run(t, nakamaimport.Options{Restart: true}); r.From != "" || r.Read != 12 {
		t.Errorf("restarted run: from %q, read %d", r.From, r.Read)
	}
}

func TestConnString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"postgres://nakama:pw@db:5432/game?sslmode=require", "postgres://nakama:pw@db:5432/game?sslmode=require"},
		{"root@localhost:26257", "postgresql://root@localhost:26257/nakama"},
		{"nakama:secret@db.internal:5432/nakama2?sslmode=disable", "postgresql://nakama:secret@db.internal:5432/nakama2?sslmode=disable"},
	} {
		got, err := nakamaimport.ConnString(c.in)
		if err != nil || got != c.want {
			t.Errorf("ConnString(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
	if _, err := nakamaimport.ConnString("::nonsense"); err == nil {
		t.Error("ConnString accepted ::nonsense")
	}
	a := nakamaimport.Source("postgresql://u:one@h:5432/nakama")
	if a != nakamaimport.Source("postgresql://u:two@h:5432/nakama") || a == nakamaimport.Source("postgresql://u:one@h:5432/other") {
		t.Error("Source depends on the password or ignores the database")
	}
}
