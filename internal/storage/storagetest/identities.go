package storagetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

func mustUserByID(t *testing.T, st storage.Store, id string) *storage.User {
	t.Helper()
	u, err := st.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%s): %v", id, err)
	}
	return u
}

// ownerIs checks that the identity finds the account id, or no account when id is "".
func ownerIs(t *testing.T, st storage.Store, kind storage.IdentityKind, identity, id string) {
	t.Helper()
	u, err := st.UserByIdentity(t.Context(), kind, identity)
	switch {
	case id == "" && !errors.Is(err, storage.ErrNotFound):
		t.Errorf("UserByIdentity(%v, %s) = %v, want ErrNotFound", kind, identity, err)
	case id != "" && err != nil:
		t.Errorf("UserByIdentity(%v, %s): %v", kind, identity, err)
	case id != "" && u.ID != id:
		t.Errorf("UserByIdentity(%v, %s) = %s, want %s", kind, identity, u.ID, id)
	}
}

func testLinkIdentity(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			owner := mustUser(t, st, "owner_"+kind.String())
			other := mustUser(t, st, "other_"+kind.String())
			want := *owner
			first, second := identityFor(kind), identityFor(kind)
			link := func(at time.Time, identity string, pw []byte) {
				t.Helper()
				if err := st.LinkIdentity(ctx, owner.ID, kind, identity, pw, at); err != nil {
					t.Fatalf("LinkIdentity(%s) at %v: %v", identity, at, err)
				}
				want.SetIdentity(kind, identity)
				want.UpdateTime = at
				if pw != nil {
					want.Password = pw
				}
				checkUser(t, mustUserByID(t, st, owner.ID), &want)
				ownerIs(t, st, kind, identity, owner.ID)
			}

			link(base.Add(time.Minute), first, passwordFor(kind, 1))
			// Linking it again changes nothing but the time (and an email's password).
			link(base.Add(2*time.Minute), first, passwordFor(kind, 2))
			// A second device joins the first; a second identity of another kind replaces the first.
			link(base.Add(3*time.Minute), second, passwordFor(kind, 3))
			if kind == storage.IdentityDevice {
				ownerIs(t, st, kind, first, owner.ID)
			} else {
				ownerIs(t, st, kind, first, "")
			}

			taken := []string{second}
			if kind == storage.IdentityDevice {
				taken = append(taken, owner.Devices[0]) // the device the account was created with
			}
			for _, taken := range taken {
				err := st.LinkIdentity(ctx, other.ID, kind, taken, passwordFor(kind, 4), base.Add(4*time.Minute))
				checkErr(t, "LinkIdentity of another account's identity", err, storage.ErrIdentityTaken)
			}
			checkUser(t, mustUserByID(t, st, other.ID), other)
			checkUser(t, mustUserByID(t, st, owner.ID), &want)

			// An unknown account is not found, whether or not the identity is free.
			for _, userID := range []string{NewID(), "not-a-uuid"} {
				for _, identity := range []string{identityFor(kind), second} {
					err := st.LinkIdentity(ctx, userID, kind, identity, passwordFor(kind, 5), base.Add(5*time.Minute))
					checkErr(t, "LinkIdentity(unknown user "+userID+")", err, storage.ErrNotFound)
				}
			}
		})
	}
}

// testLinkEveryKind links one identity of each kind to one account, which then holds them all.
func testLinkEveryKind(t *testing.T, st storage.Store) {
	ctx := t.Context()
	u := mustUser(t, st, "collector")
	want := *u
	for i, kind := range kinds {
		identity := identityFor(kind)
		if err := st.LinkIdentity(ctx, u.ID, kind, identity, passwordFor(kind, i), base.Add(time.Minute)); err != nil {
			t.Fatalf("LinkIdentity(%v): %v", kind, err)
		}
		want.SetIdentity(kind, identity)
		if pw := passwordFor(kind, i); pw != nil {
			want.Password = pw
		}
	}
	want.UpdateTime = base.Add(time.Minute)
	got := mustUserByID(t, st, u.ID)
	checkUser(t, got, &want)
	if n := got.IdentityCount(); n != len(kinds)+1 {
		t.Errorf("IdentityCount = %d, want %d", n, len(kinds)+1)
	}
}

func testUnlinkIdentity(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		t.Run(kind.String(), func(t *testing.T) {
			identity := identityFor(kind)
			nu := storage.NewUser{ID: NewID(), Username: "unlink_" + kind.String(), Kind: kind, Identity: identity,
				Password: passwordFor(kind, 0), Time: base}
			created, err := st.CreateUser(ctx, nu)
			if err != nil {
				t.Fatalf("CreateUser: %v", err)
			}
			unlink := func(kind storage.IdentityKind, identity string, at time.Time) error {
				return st.UnlinkIdentity(ctx, nu.ID, kind, identity, at)
			}

			// The account's only identity stays, whatever its kind.
			checkErr(t, "UnlinkIdentity(only identity)", unlink(kind, identity, base.Add(time.Minute)), storage.ErrLastIdentity)
			checkUser(t, mustUserByID(t, st, nu.ID), created)

			// With a device besides, either can go, and comes back.
			device := identityFor(storage.IdentityDevice)
			if err := st.LinkIdentity(ctx, nu.ID, storage.IdentityDevice, device, nil, base.Add(time.Minute)); err != nil {
				t.Fatalf("LinkIdentity(device): %v", err)
			}
			if err := unlink(storage.IdentityDevice, device, base.Add(2*time.Minute)); err != nil {
				t.Fatalf("UnlinkIdentity(device): %v", err)
			}
			want := *created
			want.UpdateTime = base.Add(2 * time.Minute)
			checkUser(t, mustUserByID(t, st, nu.ID), &want)
			ownerIs(t, st, storage.IdentityDevice, device, "")
			if err := st.LinkIdentity(ctx, nu.ID, storage.IdentityDevice, device, nil, base.Add(3*time.Minute)); err != nil {
				t.Fatalf("LinkIdentity(device) again: %v", err)
			}

			// Only the identity the account holds, under its own kind, can be unlinked.
			for _, wrong := range []struct {
				kind     storage.IdentityKind
				identity string
			}{
				{kind, identityFor(kind)},
				{kind, ""},
				{otherKind(kind), identity},
			} {
				checkErr(t, "UnlinkIdentity("+wrong.kind.String()+", "+wrong.identity+")",
					unlink(wrong.kind, wrong.identity, base.Add(4*time.Minute)), storage.ErrNotFound)
			}
			for _, userID := range []string{NewID(), "not-a-uuid"} {
				err = st.UnlinkIdentity(ctx, userID, kind, identity, base.Add(4*time.Minute))
				checkErr(t, "UnlinkIdentity(unknown user "+userID+")", err, storage.ErrNotFound)
			}

			if err := unlink(kind, identity, base.Add(5*time.Minute)); err != nil {
				t.Fatalf("UnlinkIdentity: %v", err)
			}
			want = *created
			want.Devices = []string{device}
			if kind != storage.IdentityDevice {
				want.SetIdentity(kind, "")
			}
			want.Password = nil // an email takes its password with it
			want.UpdateTime = base.Add(5 * time.Minute)
			checkUser(t, mustUserByID(t, st, nu.ID), &want)
			ownerIs(t, st, kind, identity, "")

			checkErr(t, "UnlinkIdentity(the device left)", unlink(storage.IdentityDevice, device, base.Add(6*time.Minute)),
				storage.ErrLastIdentity)
			checkErr(t, "UnlinkIdentity(again)", unlink(kind, identity, base.Add(6*time.Minute)), storage.ErrNotFound)
			checkUser(t, mustUserByID(t, st, nu.ID), &want)
		})
	}
}

// otherKind returns a kind other than kind.
func otherKind(kind storage.IdentityKind) storage.IdentityKind {
	if kind == storage.IdentityCustom {
		return storage.IdentityDevice
	}
	return storage.IdentityCustom
}

func testDeleteUser(t *testing.T, st storage.Store) {
	ctx := t.Context()
	const name = "doomed"
	u := mustUser(t, st, name)
	identities := map[storage.IdentityKind][]string{storage.IdentityDevice: slices.Clone(u.Devices)}
	for i, kind := range kinds {
		identity := identityFor(kind)
		if err := st.LinkIdentity(ctx, u.ID, kind, identity, passwordFor(kind, i), base); err != nil {
			t.Fatalf("LinkIdentity(%v): %v", kind, err)
		}
		identities[kind] = append(identities[kind], identity)
	}
	revoked := mustSession(t, st, u.ID, base, base.Add(time.Hour))
	live := mustSession(t, st, u.ID, base, base.Add(time.Hour))
	rev, err := st.RevokeSession(ctx, revoked.ID, "logout", base.Add(time.Minute))
	if err != nil || rev == nil {
		t.Fatalf("RevokeSession = %+v, %v", rev, err)
	}
	ev := storage.Event{Time: base, Kind: storage.EventLoggedOut, UserID: u.ID, SessionID: revoked.ID, Reason: "logout"}
	if err := st.AppendEvents(ctx, ev); err != nil {
		t.Fatal(err)
	}
	bystander := mustUser(t, st, "bystander")
	theirs := mustSession(t, st, bystander.ID, base, base.Add(time.Hour))

	if err := st.DeleteUser(ctx, u.ID); err != nil {
		t.Fatalf("DeleteUser: %v", err)
	}
	_, err = st.UserByID(ctx, u.ID)
	checkErr(t, "UserByID after DeleteUser", err, storage.ErrNotFound)
	_, err = st.UserByUsername(ctx, name)
	checkErr(t, "UserByUsername after DeleteUser", err, storage.ErrNotFound)
	for kind, ids := range identities {
		for _, identity := range ids {
			ownerIs(t, st, kind, identity, "")
		}
	}
	for _, s := range []*storage.Session{revoked, live} {
		_, err := st.SessionByID(ctx, s.ID)
		checkErr(t, "SessionByID after DeleteUser", err, storage.ErrNotFound)
	}
	if sessions, err := st.ListUserSessions(ctx, u.ID, base, storage.SessionCursor{}, 100); err != nil || len(sessions) != 0 {
		t.Errorf("ListUserSessions after DeleteUser = %+v, %v; want none", sessions, err)
	}
	_, err = st.CreateSession(ctx, storage.Session{ID: NewID(), UserID: u.ID, CreateTime: base, ExpireTime: base.Add(time.Hour)})
	checkErr(t, "CreateSession after DeleteUser", err, storage.ErrNotFound)

	// The revocation outlives the session, and the event log keeps the account's history.
	feed, err := st.RevocationsSince(ctx, 0, base, 100)
	if err != nil {
		t.Fatal(err)
	}
	checkRevocations(t, feed, []storage.Revocation{*rev})
	if evs, err := st.ListEvents(ctx, u.ID, 0, 10); err != nil || len(evs) != 1 {
		t.Errorf("ListEvents after DeleteUser = %+v, %v; want the one event", evs, err)
	}
	// Nothing of anyone else's went with it.
	checkUser(t, mustUserByID(t, st, bystander.ID), bystander)
	checkSession(t, mustSessionByID(t, st, theirs.ID), theirs)

	for _, id := range []string{u.ID, NewID(), "not-a-uuid"} {
		checkErr(t, "DeleteUser("+id+")", st.DeleteUser(ctx, id), storage.ErrNotFound)
	}

	// Every identity and the username are free again: one new account takes them all.
	first := storage.NewUser{ID: NewID(), Username: name, Kind: storage.IdentityDevice, Identity: identities[storage.IdentityDevice][0], Time: base}
	if _, err := st.CreateUser(ctx, first); err != nil {
		t.Fatalf("CreateUser with a deleted account's device and username: %v", err)
	}
	for i, kind := range kinds {
		for _, identity := range identities[kind] {
			if err := st.LinkIdentity(ctx, first.ID, kind, identity, passwordFor(kind, i), base); err != nil {
				t.Errorf("LinkIdentity(%v, %s) of a deleted account's identity: %v", kind, identity, err)
			}
			ownerIs(t, st, kind, identity, first.ID)
		}
	}
}

// testDeleteUserThenCreate checks that each kind of identity of a deleted account can create an account.
func testDeleteUserThenCreate(t *testing.T, st storage.Store) {
	ctx := t.Context()
	for _, kind := range kinds {
		nu := storage.NewUser{ID: NewID(), Username: "again_" + kind.String(), Kind: kind, Identity: identityFor(kind),
			Password: passwordFor(kind, 0), Time: base}
		if _, err := st.CreateUser(ctx, nu); err != nil {
			t.Fatalf("CreateUser(%v): %v", kind, err)
		}
		if err := st.DeleteUser(ctx, nu.ID); err != nil {
			t.Fatalf("DeleteUser(%v): %v", kind, err)
		}
		again := nu
		again.ID = NewID()
		if _, err := st.CreateUser(ctx, again); err != nil {
			t.Errorf("CreateUser(%v) with a deleted account's identity: %v", kind, err)
		}
		ownerIs(t, st, kind, nu.Identity, again.ID)
	}
}

func testUsersByIDs(t *testing.T, st storage.Store) {
	ctx := t.Context()
	alpha, beta, gamma := mustUser(t, st, "alpha"), mustUser(t, st, "beta"), mustUser(t, st, "gamma")
	mustUser(t, st, "Alpha")
	// One account with every field set, to check that the lookup reads them all.
	for i, kind := range kinds {
		if err := st.LinkIdentity(ctx, gamma.ID, kind, identityFor(kind), passwordFor(kind, i), base.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	full := mustUserByID(t, st, gamma.ID)
	users := map[string]*storage.User{alpha.ID: alpha, beta.ID: beta, gamma.ID: full}

	unknown := NewID()
	tests := []struct {
		name           string
		ids, usernames []string
		want           []string
	}{
		{"none", nil, nil, nil},
		{"empty", []string{}, []string{}, nil},
		{"ids", []string{alpha.ID, gamma.ID}, nil, []string{alpha.ID, gamma.ID}},
		{"usernames", nil, []string{"beta", "gamma"}, []string{beta.ID, gamma.ID}},
		{"both", []string{alpha.ID}, []string{"beta"}, []string{alpha.ID, beta.ID}},
		{"duplicates", []string{alpha.ID, alpha.ID, beta.ID}, []string{"alpha", "beta", "beta"}, []string{alpha.ID, beta.ID}},
		{"unknown", []string{unknown}, []string{"delta"}, nil},
		{"not uuids", []string{"not-a-uuid", "", alpha.ID + "x"}, []string{"gamma"}, []string{gamma.ID}},
		{"username is exact", nil, []string{"ALPHA", "alph", "alpha%", "Beta"}, nil},
		{"usernames are not ids", []string{"alpha"}, []string{alpha.ID}, nil},
		{"odd usernames", nil, []string{"nul\x00byte", "bad\xffutf8", `quote"d`, "beta"}, []string{beta.ID}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := st.UsersByIDs(ctx, tt.ids, tt.usernames)
			if err != nil {
				t.Fatalf("UsersByIDs: %v", err)
			}
			ids := make([]string, len(got))
			for i, u := range got {
				ids[i] = u.ID
			}
			slices.Sort(ids)
			want := slices.Sorted(slices.Values(tt.want))
			if !slices.Equal(ids, want) {
				t.Fatalf("UsersByIDs = %q, want %q", ids, want)
			}
			for _, u := range got {
				w := *users[u.ID]
				w.Password = u.Password // UsersByIDs need not read it
				checkUser(t, &u, &w)
			}
		})
	}
}
