package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// fullImport returns an imported account with every field set, a fresh value in each unique one. Its
// password is a real bcrypt hash's shape, and its devices come unsorted and with a repeat.
func fullImport(username string) storage.ImportedUser {
	d1, d2 := identityFor(storage.IdentityDevice), identityFor(storage.IdentityDevice)
	return storage.ImportedUser{
		ID: NewID(), Username: username, DisplayName: "Display " + username, AvatarURL: "https://example.com/a.png",
		LangTag: "fr", Location: "Paris", Timezone: "Europe/Paris", Metadata: `{"level": 7, "b": [1,2]}`,
		Email: identityFor(storage.IdentityEmail), Password: []byte("$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"),
		CustomID: identityFor(storage.IdentityCustom), AppleID: identityFor(storage.IdentityApple),
		FacebookID: identityFor(storage.IdentityFacebook), FacebookInstantGameID: identityFor(storage.IdentityFacebookInstantGame),
		GoogleID: identityFor(storage.IdentityGoogle), GameCenterID: identityFor(storage.IdentityGameCenter),
		SteamID: identityFor(storage.IdentitySteam), Devices: []string{d2, d1, d2},
		CreateTime: base.Add(-48 * time.Hour), UpdateTime: base.Add(-time.Hour), VerifyTime: base.Add(-24 * time.Hour),
	}
}

// importedAs is the User an import of in reads back as.
func importedAs(in storage.ImportedUser) *storage.User {
	u := &storage.User{
		ID: in.ID, Username: in.Username, DisplayName: in.DisplayName, AvatarURL: in.AvatarURL, LangTag: in.LangTag,
		Location: in.Location, Timezone: in.Timezone, Metadata: in.Metadata, Wallet: "{}",
		Email: strings.ToLower(in.Email), Password: in.Password, CustomID: in.CustomID, AppleID: in.AppleID,
		GoogleID: in.GoogleID, GameCenterID: in.GameCenterID, SteamID: in.SteamID, FacebookID: in.FacebookID,
		FacebookInstantGameID: in.FacebookInstantGameID,
		CreateTime:            in.CreateTime, UpdateTime: in.UpdateTime, VerifyTime: in.VerifyTime,
	}
	if u.Metadata == "" {
		u.Metadata = "{}"
	}
	for _, d := range in.Devices {
		u.SetIdentity(storage.IdentityDevice, d)
	}
	return u
}

// identitiesOf lists the account's identities by kind, devices included.
func identitiesOf(u *storage.User) map[storage.IdentityKind][]string {
	return map[storage.IdentityKind][]string{
		storage.IdentityDevice: u.Devices, storage.IdentityEmail: {u.Email}, storage.IdentityCustom: {u.CustomID},
		storage.IdentityApple: {u.AppleID}, storage.IdentityGoogle: {u.GoogleID},
		storage.IdentityGameCenter: {u.GameCenterID}, storage.IdentitySteam: {u.SteamID},
		storage.IdentityFacebook: {u.FacebookID}, storage.IdentityFacebookInstantGame: {u.FacebookInstantGameID},
	}
}

func mustImport(t *testing.T, st storage.Store, in storage.ImportedUser, want storage.ImportOutcome) {
	t.Helper()
	got, err := st.ImportUser(t.Context(), in)
	if err != nil || got != want {
		t.Fatalf("ImportUser(%s) = %v, %v; want %v", in.Username, got, err, want)
	}
}

// checkImported reads the account back by id, username and each of its identities.
func checkImported(t *testing.T, st storage.Store, want *storage.User) {
	t.Helper()
	ctx := t.Context()
	got, err := st.UserByID(ctx, want.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, got, want)
	if got, err := st.UserByUsername(ctx, want.Username); err != nil || got.ID != want.ID {
		t.Errorf("UserByUsername(%s) = %v, %v", want.Username, got, err)
	}
	for kind, ids := range identitiesOf(want) {
		for _, id := range ids {
			if id == "" {
				continue
			}
			if got, err := st.UserByIdentity(ctx, kind, id); err != nil || got.ID != want.ID {
				t.Errorf("UserByIdentity(%v) = %v, %v; want account %s", kind, got, err, want.ID)
			}
		}
	}
}

func testImportCreate(t *testing.T, st storage.Store) {
	in := fullImport("imported")
	in.Email = "Mixed.Case@Example.COM"
	mustImport(t, st, in, storage.ImportCreated)
	want := importedAs(in)
	checkImported(t, st, want)
	got, _ := st.UserByID(t.Context(), in.ID)
	if string(got.Password) != string(in.Password) {
		t.Errorf("password = %q, want the imported hash byte for byte", got.Password)
	}
	// The same account again writes nothing.
	mustImport(t, st, in, storage.ImportUnchanged)
	checkImported(t, st, want)

	// An account with nothing optional set: no password, no identity but a device, no verify time.
	bare := storage.ImportedUser{ID: NewID(), Username: "bare", Devices: []string{identityFor(storage.IdentityDevice)},
		CreateTime: base, UpdateTime: base}
	mustImport(t, st, bare, storage.ImportCreated)
	checkImported(t, st, importedAs(bare))
	mustImport(t, st, bare, storage.ImportUnchanged)
}

func testImportUpdate(t *testing.T, st storage.Store) {
	ctx := t.Context()
	in := fullImport("before")
	mustImport(t, st, in, storage.ImportCreated)
	// A ban and a session, which an import must leave alone.
	if err := st.SetDisableTime(ctx, in.ID, base); err != nil {
		t.Fatal(err)
	}
	sess := mustSession(t, st, in.ID, base, base.Add(time.Hour))

	kept, dropped := in.Devices[0], in.Devices[1]
	in.Username, in.DisplayName, in.AvatarURL, in.LangTag = "after", "", "https://example.com/b.png", "en"
	in.Location, in.Timezone, in.Metadata = "", "UTC", ""
	in.Email, in.Password, in.CustomID, in.SteamID = "", nil, "", identityFor(storage.IdentitySteam)
	in.Devices = []string{identityFor(storage.IdentityDevice), kept}
	in.CreateTime, in.UpdateTime, in.VerifyTime = in.CreateTime.Add(time.Second), base, time.Time{}
	mustImport(t, st, in, storage.ImportUpdated)
	want := importedAs(in)
	want.DisableTime = base
	checkImported(t, st, want)
	if _, err := st.UserByIdentity(ctx, storage.IdentityDevice, dropped); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("removed device: UserByIdentity error = %v, want ErrNotFound", err)
	}
	if got := mustSessionByID(t, st, sess.ID); got.Revoked() || got.Generation != sess.Generation {
		t.Errorf("session after import = %+v, want it live in generation %d", got, sess.Generation)
	}
	mustImport(t, st, in, storage.ImportUnchanged)

	// A single field differing is an update.
	in.Metadata = `{"x":1}`
	mustImport(t, st, in, storage.ImportUpdated)
	want.Metadata = in.Metadata
	checkImported(t, st, want)

	// An account Latchkey created, imported over.
	u := mustUser(t, st, "native")
	over := fullImport("native")
	over.ID = u.ID
	mustImport(t, st, over, storage.ImportUpdated)
	checkImported(t, st, importedAs(over))
	if _, err := st.UserByIdentity(ctx, storage.IdentityDevice, u.Devices[0]); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("device the import does not list: UserByIdentity error = %v, want ErrNotFound", err)
	}
}

func testImportConflicts(t *testing.T, st storage.Store) {
	ctx := t.Context()
	owner := fullImport("owner")
	mustImport(t, st, owner, storage.ImportCreated)
	existing := fullImport("existing")
	mustImport(t, st, existing, storage.ImportCreated)
	before, err := st.UserByID(ctx, existing.ID)
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		field string
		take  func(u *storage.ImportedUser) string // sets owner's value on u, returns it
	}{
		{"username", func(u *storage.ImportedUser) string { u.Username = owner.Username; return u.Username }},
		{"email", func(u *storage.ImportedUser) string { u.Email = strings.ToUpper(owner.Email); return owner.Email }},
		{"custom_id", func(u *storage.ImportedUser) string { u.CustomID = owner.CustomID; return u.CustomID }},
		{"device_id", func(u *storage.ImportedUser) string {
			u.Devices = append(u.Devices, owner.Devices[1])
			return owner.Devices[1]
		}},
		{"apple_id", func(u *storage.ImportedUser) string { u.AppleID = owner.AppleID; return u.AppleID }},
		{"google_id", func(u *storage.ImportedUser) string { u.GoogleID = owner.GoogleID; return u.GoogleID }},
		{"gamecenter_id", func(u *storage.ImportedUser) string { u.GameCenterID = owner.GameCenterID; return u.GameCenterID }},
		{"steam_id", func(u *storage.ImportedUser) string { u.SteamID = owner.SteamID; return u.SteamID }},
		{"facebook_id", func(u *storage.ImportedUser) string { u.FacebookID = owner.FacebookID; return u.FacebookID }},
		{"facebook_instant_game_id", func(u *storage.ImportedUser) string {
			u.FacebookInstantGameID = owner.FacebookInstantGameID
			return u.FacebookInstantGameID
		}},
	}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			check := func(what string, in storage.ImportedUser, value string) {
				t.Helper()
				out, err := st.ImportUser(ctx, in)
				var conflict *storage.ImportConflict
				if !errors.As(err, &conflict) || !errors.Is(err, storage.ErrConflict) {
					t.Fatalf("%s: ImportUser = %v, %v; want an *ImportConflict", what, out, err)
				}
				if conflict.Field != c.field || conflict.OtherUserID != owner.ID || conflict.Value != value {
					t.Errorf("%s: conflict = %+v, want field %s, other %s", what, *conflict, c.field, owner.ID)
				}
				if msg := err.Error(); strings.Contains(msg, value) || !strings.Contains(msg, c.field) || !strings.Contains(msg, owner.ID) {
					t.Errorf("%s: Error() = %q, want the field and the other account, not the value", what, msg)
				}
			}

			// A new account: nothing is created, none of its fresh identities is taken.
			fresh := fullImport("fresh_" + c.field)
			value := c.take(&fresh)
			check("new account", fresh, value)
			if _, err := st.UserByID(ctx, fresh.ID); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("account after a conflict: UserByID error = %v, want ErrNotFound", err)
			}
			if _, err := st.UserByIdentity(ctx, storage.IdentityDevice, fresh.Devices[0]); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("device after a conflict: UserByIdentity error = %v, want ErrNotFound", err)
			}

			// An existing account with other changes besides: none of them is written.
			upd := existing
			upd.Devices = []string{identityFor(storage.IdentityDevice)}
			upd.DisplayName, upd.UpdateTime = "changed", base
			value = c.take(&upd)
			check("existing account", upd, value)
			after, err := st.UserByID(ctx, existing.ID)
			if err != nil {
				t.Fatal(err)
			}
			checkUser(t, after, before)
			checkImported(t, st, importedAs(owner))
		})
	}
}

func testImportOwnIdentitiesMove(t *testing.T, st storage.Store) {
	in := fullImport("mover")
	mustImport(t, st, in, storage.ImportCreated)
	// Its values change places: no other account holds any of them.
	in.CustomID, in.GoogleID = in.GoogleID, in.CustomID
	in.AppleID, in.SteamID = in.SteamID, in.AppleID
	in.Devices = []string{in.Devices[0], in.FacebookID}
	in.FacebookID = in.Devices[1] + "-fb"
	mustImport(t, st, in, storage.ImportUpdated)
	checkImported(t, st, importedAs(in))
	mustImport(t, st, in, storage.ImportUnchanged)
}

func testImportCheckpoint(t *testing.T, st storage.Store) {
	ctx := t.Context()
	get := func(source, want string) {
		t.Helper()
		if got, err := st.ImportCheckpoint(ctx, source); err != nil || got != want {
			t.Errorf("ImportCheckpoint(%s) = %q, %v; want %q", source, got, err, want)
		}
	}
	set := func(source, id string) {
		t.Helper()
		if err := st.SetImportCheckpoint(ctx, source, id); err != nil {
			t.Fatalf("SetImportCheckpoint(%s, %s): %v", source, id, err)
		}
	}
	get("a", "")
	a1, a2, b1 := NewID(), NewID(), NewID()
	set("a", a1)
	set("b", b1)
	get("a", a1)
	get("b", b1)
	set("a", a2)
	get("a", a2)
	get("b", b1)
	get("c", "")
}

// testConcurrentImportSameIdentity races imports of distinct new accounts that share one identity of each
// kind in turn, and of one new account imported many times at once: exactly one import of an identity wins
// and every other gets an *ImportConflict naming the winner; one account imported at once is created
// once and found unchanged by the others.
func testConcurrentImportSameIdentity(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			shared := fullImport("shared_" + kind.String())
			ins := make([]storage.ImportedUser, racers)
			for i := range ins {
				ins[i] = storage.ImportedUser{ID: NewID(), Username: fmt.Sprintf("racer_%s_%d", kind, i), CreateTime: base, UpdateTime: base}
				if kind == storage.IdentityDevice {
					ins[i].Devices = shared.Devices[:1]
				} else {
					ins[i].Devices = []string{identityFor(storage.IdentityDevice)}
					ins[i].Email, ins[i].CustomID, ins[i].AppleID, ins[i].GoogleID = "", "", "", ""
					switch kind {
					case storage.IdentityEmail:
						ins[i].Email = shared.Email
					case storage.IdentityCustom:
						ins[i].CustomID = shared.CustomID
					case storage.IdentityApple:
						ins[i].AppleID = shared.AppleID
					case storage.IdentityGoogle:
						ins[i].GoogleID = shared.GoogleID
					case storage.IdentityGameCenter:
						ins[i].GameCenterID = shared.GameCenterID
					case storage.IdentitySteam:
						ins[i].SteamID = shared.SteamID
					case storage.IdentityFacebook:
						ins[i].FacebookID = shared.FacebookID
					case storage.IdentityFacebookInstantGame:
						ins[i].FacebookInstantGameID = shared.FacebookInstantGameID
					}
				}
			}
			errs := race(racers, func(i int) error {
				_, err := st.ImportUser(ctx, ins[i])
				return err
			})
			w := tally(t, "ImportUser with one "+kind.String(), errs, storage.ErrConflict)
			if w < 0 {
				return
			}
			for i, err := range errs {
				var conflict *storage.ImportConflict
				if i != w && (!errors.As(err, &conflict) || conflict.OtherUserID != ins[w].ID) {
					t.Errorf("loser %d: error = %v, want an *ImportConflict naming %s", i, err, ins[w].ID)
				}
				if _, err := st.UserByID(ctx, ins[i].ID); i != w && !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("loser %d exists: %v", i, err)
				}
			}
		})
	}

	t.Run("same account", func(t *testing.T) {
		in := fullImport("same")
		outs := make([]storage.ImportOutcome, racers)
		errs := race(racers, func(i int) error {
			var err error
			outs[i], err = st.ImportUser(ctx, in)
			return err
		})
		created := 0
		for i, err := range errs {
			switch {
			case err != nil:
				t.Errorf("import %d: %v", i, err)
			case outs[i] == storage.ImportCreated:
				created++
			case outs[i] != storage.ImportUnchanged:
				t.Errorf("import %d = %v, want created or unchanged", i, outs[i])
			}
		}
		if created != 1 {
			t.Errorf("%d imports created the account, want 1", created)
		}
		checkImported(t, st, importedAs(in))
	})
}
