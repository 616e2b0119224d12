package storagetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

func testCreateAndFind(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			identity := identityFor(kind)
			nu := storage.NewUser{ID: NewID(), Username: "user_" + kind.String(), Kind: kind, Identity: identity, Time: base}
			want := &storage.User{
				ID: nu.ID, Username: nu.Username, LangTag: "en", Metadata: "{}", Wallet: "{}",
				CreateTime: base, UpdateTime: base,
			}
			want.SetIdentity(kind, identity)
			nu.Password = passwordFor(kind, 0)
			want.Password = nu.Password
			created, err := st.CreateUser(ctx, nu)
			if err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			checkUser(t, created, want)

			got, err := st.UserByID(ctx, nu.ID)
			if err != nil {
				t.Fatalf("UserByID: %v", err)
			}
			checkUser(t, got, want)
			if got, err = st.UserByIdentity(ctx, kind, identity); err != nil {
				t.Fatalf("UserByIdentity: %v", err)
			}
			checkUser(t, got, want)
			if got, err = st.UserByUsername(ctx, nu.Username); err != nil {
				t.Fatalf("UserByUsername: %v", err)
			}
			checkUser(t, got, want)
			if got.Banned() {
				t.Error("new user is banned")
			}

			// The identity is only found under its own kind.
			for _, other := range kinds {
				if other == kind {
					continue
				}
				_, err := st.UserByIdentity(ctx, other, identity)
				checkErr(t, "UserByIdentity("+other.String()+") with a "+kind.String()+" identity", err, storage.ErrNotFound)
			}
		})
	}

	// Accounts without an email, custom id or platform id do not clash over the missing values.
	a, b := mustUser(t, st, "no_email_a"), mustUser(t, st, "no_email_b")
	if a.IdentityCount() != 1 || b.IdentityCount() != 1 {
		t.Errorf("device accounts have other identities: %+v %+v", a, b)
	}
	if a.Password != nil {
		t.Errorf("device account password = %q, want nil", a.Password)
	}
}

// testOddDeviceID round-trips device ids made of the characters a backend might use as separators or
// escapes.
func testOddDeviceID(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for i, device := range []string{`quote"d`, `back\slash`, `comma,","separated`, "ünïcødé-ид-设备", `[],{}:'%_`} {
		u, err := st.CreateUser(ctx, storage.NewUser{ID: NewID(), Username: fmt.Sprint("odd", i), Kind: storage.IdentityDevice, Identity: device, Time: base})
		if err != nil {
			t.Fatalf("CreateUser(%q): %v", device, err)
		}
		got, err := st.UserByIdentity(ctx, storage.IdentityDevice, device)
		if err != nil {
			t.Fatalf("UserByIdentity(%q): %v", device, err)
		}
		checkUser(t, got, u)
	}
	// LIKE-style wildcards must not match other ids.
	_, err := st.UserByIdentity(ctx, storage.IdentityDevice, `[],{}:'__`)
	checkErr(t, "UserByIdentity with wildcards", err, storage.ErrNotFound)
}

func testUserNotFound(t *testing.T, st storage.Store) {
	ctx := t.Context()
	mustUser(t, st, "someone")
	_, err := st.UserByID(ctx, NewID())
	checkErr(t, "UserByID", err, storage.ErrNotFound)
	for _, kind := range kinds {
		_, err := st.UserByIdentity(ctx, kind, identityFor(kind))
		checkErr(t, "UserByIdentity("+kind.String()+")", err, storage.ErrNotFound)
	}
	_, err = st.UserByUsername(ctx, "nobody")
	checkErr(t, "UserByUsername", err, storage.ErrNotFound)
}

func testDuplicateIdentity(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			identity := identityFor(kind)
			first := storage.NewUser{ID: NewID(), Username: "first_" + kind.String(), Kind: kind, Identity: identity, Time: base}
			if _, err := st.CreateUser(ctx, first); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			second := storage.NewUser{ID: NewID(), Username: "second_" + kind.String(), Kind: kind, Identity: identity, Time: base}
			_, err := st.CreateUser(ctx, second)
			checkErr(t, "CreateUser with a taken identity", err, storage.ErrIdentityTaken)

			if _, err := st.UserByID(ctx, second.ID); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("UserByID(second) = %v, want ErrNotFound", err)
			}
			if _, err := st.UserByUsername(ctx, second.Username); !errors.Is(err, storage.ErrNotFound) {
				t.Errorf("UserByUsername(second) = %v, want ErrNotFound", err)
			}
			owner, err := st.UserByIdentity(ctx, kind, identity)
			if err != nil {
				t.Fatalf("UserByIdentity: %v", err)
			}
			if owner.ID != first.ID {
				t.Errorf("identity owner = %s, want %s", owner.ID, first.ID)
			}
			if kind == storage.IdentityDevice && len(owner.Devices) != 1 {
				t.Errorf("owner devices = %q, want one", owner.Devices)
			}
		})
	}
}

func testDuplicateUsername(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			name := "taken_" + kind.String()
			first := mustUser(t, st, name)
			second := storage.NewUser{ID: NewID(), Username: name, Kind: kind, Identity: identityFor(kind), Time: base}
			_, err := st.CreateUser(ctx, second)
			checkErr(t, "CreateUser with a taken username", err, storage.ErrUsernameTaken)
			// Neither the account row nor its identity (for a device, a separate row) may survive.
			absent(t, st, second.ID, kind, second.Identity)
			got, err := st.UserByUsername(ctx, name)
			if err != nil {
				t.Fatalf("UserByUsername: %v", err)
			}
			checkUser(t, got, first)
		})
	}
}

// testIdentityWinsOverUsername pins the error when both the username and the identity clash: callers that
// lose a race to create the same identity then sign in to the winner's account instead of reporting a
// username clash.
func testIdentityWinsOverUsername(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			identity := identityFor(kind)
			name := "both_" + kind.String()
			if _, err := st.CreateUser(ctx, storage.NewUser{ID: NewID(), Username: name, Kind: kind, Identity: identity, Time: base}); err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			_, err := st.CreateUser(ctx, storage.NewUser{ID: NewID(), Username: name, Kind: kind, Identity: identity, Time: base})
			checkErr(t, "CreateUser with a taken username and identity", err, storage.ErrIdentityTaken)
		})
	}
}

func testUsernameCaseSensitive(t *testing.T, st storage.Store) {
	ctx := t.Context()
	upper := mustUser(t, st, "Alice")
	_, err := st.UserByUsername(ctx, "alice")
	checkErr(t, "UserByUsername(alice) with only Alice", err, storage.ErrNotFound)
	lower := mustUser(t, st, "alice")
	for name, want := range map[string]*storage.User{"Alice": upper, "alice": lower} {
		got, err := st.UserByUsername(ctx, name)
		if err != nil {
			t.Fatalf("UserByUsername(%s): %v", name, err)
		}
		if got.ID != want.ID {
			t.Errorf("UserByUsername(%s) = %s, want %s", name, got.ID, want.ID)
		}
	}
}

func testUpdateProfile(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "before")
	t1 := base.Add(time.Minute)
	set := storage.ProfileUpdate{
		Username: ptr("after"), DisplayName: ptr("Display"), AvatarURL: ptr("https://example.com/a.png"),
		LangTag: ptr("fr"), Location: ptr("Paris"), Timezone: ptr("Europe/Paris"), Metadata: ptr(`{"a":1}`), Time: t1,
	}
	want := *u
	want.Username, want.DisplayName, want.AvatarURL = "after", "Display", "https://example.com/a.png"
	want.LangTag, want.Location, want.Timezone, want.Metadata, want.UpdateTime = "fr", "Paris", "Europe/Paris", `{"a":1}`, t1

	steps := []struct {
		name   string
		update storage.ProfileUpdate
		apply  func(*storage.User)
	}{
		{"set", set, func(*storage.User) {}},
		{
			name:   "unchanged",
			update: storage.ProfileUpdate{Timezone: ptr("UTC"), Time: t1.Add(time.Minute)},
			apply:  func(w *storage.User) { w.Timezone, w.UpdateTime = "UTC", t1.Add(time.Minute) },
		},
		{
			name: "clear",
			update: storage.ProfileUpdate{
				DisplayName: ptr(""), AvatarURL: ptr(""), Location: ptr(""), Timezone: ptr(""), Metadata: ptr(""),
				Time: t1.Add(2 * time.Minute),
			},
			apply: func(w *storage.User) {
				w.DisplayName, w.AvatarURL, w.Location, w.Timezone = "", "", "", ""
				w.Metadata = "{}" // the contract's empty metadata
				w.UpdateTime = t1.Add(2 * time.Minute)
			},
		},
		{
			name:   "same username",
			update: storage.ProfileUpdate{Username: ptr("after"), Time: t1.Add(3 * time.Minute)},
			apply:  func(w *storage.User) { w.UpdateTime = t1.Add(3 * time.Minute) },
		},
	}
	for _, step := range steps {
		if err := st.UpdateProfile(ctx, u.ID, step.update); err != nil {
			t.Fatalf("%s: UpdateProfile: %v", step.name, err)
		}
		step.apply(&want)
		got, err := st.UserByID(ctx, u.ID)
		if err != nil {
			t.Fatalf("%s: UserByID: %v", step.name, err)
		}
		t.Run(step.name, func(t *testing.T) { checkUser(t, got, &want) })
	}

	_, err := st.UserByUsername(ctx, "before")
	checkErr(t, "UserByUsername(old name)", err, storage.ErrNotFound)
	if got, err := st.UserByUsername(ctx, "after"); err != nil || got.ID != u.ID {
		t.Errorf("UserByUsername(new name) = %v, %v; want %s", got, err, u.ID)
	}

	err = st.UpdateProfile(ctx, NewID(), set)
	checkErr(t, "UpdateProfile(unknown id)", err, storage.ErrNotFound)
	err = st.UpdateProfile(ctx, NewID(), storage.ProfileUpdate{Time: t1})
	checkErr(t, "UpdateProfile(unknown id, empty update)", err, storage.ErrNotFound)
}

func testUpdateProfileClash(t *testing.T, st storage.Store) {
	ctx := t.Context()
	mustUser(t, st, "holder")
	u := mustUser(t, st, "mover")
	err := st.UpdateProfile(ctx, u.ID, storage.ProfileUpdate{Username: ptr("holder"), DisplayName: ptr("x"), Time: base.Add(time.Hour)})
	checkErr(t, "UpdateProfile to a taken username", err, storage.ErrUsernameTaken)
	// The failed update must not have applied its other fields either.
	got, err := st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatalf("UserByID: %v", err)
	}
	checkUser(t, got, u)
}

func testSetDisableTime(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "banned")
	other := mustUser(t, st, "bystander")
	at := base.Add(time.Hour)
	if err := st.SetDisableTime(ctx, u.ID, at); err != nil {
		t.Fatalf("SetDisableTime(ban): %v", err)
	}
	got, err := st.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Banned() {
		t.Error("user not banned after SetDisableTime")
	}
	checkTime(t, "DisableTime", got.DisableTime, at)
	if got, err := st.UserByID(ctx, other.ID); err != nil || got.Banned() {
		t.Errorf("bystander = %+v, %v; want not banned", got, err)
	}

	if err := st.SetDisableTime(ctx, u.ID, time.Time{}); err != nil {
		t.Fatalf("SetDisableTime(unban): %v", err)
	}
	if got, err = st.UserByID(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got.Banned() || !got.DisableTime.IsZero() {
		t.Errorf("DisableTime after unban = %v, want zero", got.DisableTime)
	}

	err = st.SetDisableTime(ctx, NewID(), at)
	checkErr(t, "SetDisableTime(unknown id)", err, storage.ErrNotFound)
}

func testPing(t *testing.T, st storage.Store) {
	if err := st.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}
