// Package storagetest is the conformance suite that every storage backend runs to prove it implements the
// storage contract.
package storagetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// base is the suite's clock. It is far from time.Now so that a backend which consults the real clock where
// the contract passes a time fails, and it carries a non-UTC zone so that the UTC conversion is exercised.
var base = time.Date(2030, 3, 4, 5, 6, 7, 890_000_000, time.FixedZone("UTC+2", 2*3600))

// Run runs the conformance suite. newStore must return a fresh, migrated, empty store for each call, and
// arrange its closing with t.Cleanup.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, st storage.Store)
	}{
		{"CreateAndFind", testCreateAndFind},
		{"OddDeviceID", testOddDeviceID},
		{"NotFound", testUserNotFound},
		{"DuplicateIdentity", testDuplicateIdentity},
		{"DuplicateUsername", testDuplicateUsername},
		{"IdentityWinsOverUsername", testIdentityWinsOverUsername},
		{"UsernameCaseSensitive", testUsernameCaseSensitive},
		{"UpdateProfile", testUpdateProfile},
		{"UpdateProfileClash", testUpdateProfileClash},
		{"SetDisableTime", testSetDisableTime},
		{"LinkIdentity", testLinkIdentity},
		{"LinkEveryKind", testLinkEveryKind},
		{"UnlinkIdentity", testUnlinkIdentity},
		{"DeleteUser", testDeleteUser},
		{"DeleteUserThenCreate", testDeleteUserThenCreate},
		{"UsersByIDs", testUsersByIDs},
		{"ImportCreate", testImportCreate},
		{"ImportUpdate", testImportUpdate},
		{"ImportConflicts", testImportConflicts},
		{"ImportOwnIdentitiesMove", testImportOwnIdentitiesMove},
		{"ImportCheckpoint", testImportCheckpoint},
		{"CreateSession", testCreateSession},
		{"StartSession", testStartSession},
		{"RefreshSession", testRefreshSession},
		{"RevokeSession", testRevokeSession},
		{"RevokeUserSessions", testRevokeUserSessions},
		{"CutOutlivesUser", testCutOutlivesUser},
		{"RevokeOldestSessions", testRevokeOldestSessions},
		{"ListUserSessions", testListUserSessions},
		{"ListUserSessionsPages", testListUserSessionsPages},
		{"RevocationsSince", testRevocationsSince},
		{"DeleteExpiredSessions", testDeleteExpiredSessions},
		{"AppendAndListEvents", testAppendAndListEvents},
		{"ListEventsPaging", testListEventsPaging},
		{"EventsOutliveSessions", testEventsOutliveSessions},
		{"DeleteEventsBefore", testDeleteEventsBefore},
		{"AppendNoEvents", testAppendNoEvents},
		{"AddAndRemoveSockets", testAddAndRemoveSockets},
		{"DuplicateSocket", testDuplicateSocket},
		{"UserSocketsAliveSince", testUserSocketsAliveSince},
		{"TouchNode", testTouchNode},
		{"RemoveNode", testRemoveNode},
		{"RemoveDeadNodes", testRemoveDeadNodes},
		{"SocketCommands", testSocketCommands},
		{"DeleteSocketCommandsBefore", testDeleteSocketCommandsBefore},
		{"TicketKeys", testTicketKeys},
		{"DuplicateTicketKey", testDuplicateTicketKey},
		{"DeleteTicketKeysBefore", testDeleteTicketKeysBefore},
		{"RedeemTicket", testRedeemTicket},
		{"DeleteRedeemedTicketsBefore", testDeleteRedeemedTicketsBefore},
		{"Ping", testPing},
		{"StoreID", testStoreID},
		{"ConcurrentRefresh", testConcurrentRefresh},
		{"ConcurrentRevoke", testConcurrentRevoke},
		{"ConcurrentCreateSameDevice", testConcurrentCreateSameDevice},
		{"ConcurrentCreateSameUsername", testConcurrentCreateSameUsername},
		{"ConcurrentLinkSameIdentity", testConcurrentLinkSameIdentity},
		{"ConcurrentUnlinkLastTwo", testConcurrentUnlinkLastTwo},
		{"RefreshRacesRevoke", testRefreshRacesRevoke},
		{"CutRacesSessions", testCutRacesSessions},
		{"ConcurrentStartAtCap", testConcurrentStartAtCap},
		{"ConcurrentAppendEvents", testConcurrentAppendEvents},
		{"ConcurrentSocketCommands", testConcurrentSocketCommands},
		{"ConcurrentRedeemTicket", testConcurrentRedeemTicket},
		{"ConcurrentAddTicketKey", testConcurrentAddTicketKey},
		{"ConcurrentImportSameIdentity", testConcurrentImportSameIdentity},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, newStore(t))
		})
	}
	t.Run("StoreIDPerStore", func(t *testing.T) { testStoreIDPerStore(t, newStore) })
}

// NewID returns a random canonical lowercase UUID, as the callers of the contract generate.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// sameTime compares at the millisecond precision the contract allows a backend to keep.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

// checkTime reports a mismatch in a time that must come back in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !sameTime(got, want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

func checkUser(t *testing.T, got, want *storage.User) {
	t.Helper()
	if got == nil {
		t.Fatalf("user %s: got nil", want.ID)
	}
	// fields is the comparable part of a User; Password is compared as text.
	type fields struct {
		ID, Username, DisplayName, AvatarURL, LangTag, Location, Timezone, Metadata, Wallet, Email, Password,
		CustomID, AppleID, GoogleID, GameCenterID, SteamID, FacebookID, FacebookInstantGameID string
	}
	g := fields{got.ID, got.Username, got.DisplayName, got.AvatarURL, got.LangTag, got.Location, got.Timezone,
		got.Metadata, got.Wallet, got.Email, string(got.Password), got.CustomID,
		got.AppleID, got.GoogleID, got.GameCenterID, got.SteamID, got.FacebookID, got.FacebookInstantGameID}
	w := fields{want.ID, want.Username, want.DisplayName, want.AvatarURL, want.LangTag, want.Location, want.Timezone,
		want.Metadata, want.Wallet, want.Email, string(want.Password), want.CustomID,
		want.AppleID, want.GoogleID, want.GameCenterID, want.SteamID, want.FacebookID, want.FacebookInstantGameID}
	if g != w {
		t.Errorf("user %s:\n got %+v\nwant %+v", want.ID, g, w)
	}
	if !slices.Equal(got.Devices, want.Devices) {
		t.Errorf("user %s devices = %q, want %q", want.ID, got.Devices, want.Devices)
	}
	if (got.Password == nil) != (want.Password == nil) {
		t.Errorf("user %s password nil = %v, want %v", want.ID, got.Password == nil, want.Password == nil)
	}
	checkTime(t, "CreateTime", got.CreateTime, want.CreateTime)
	checkTime(t, "UpdateTime", got.UpdateTime, want.UpdateTime)
	checkTime(t, "VerifyTime", got.VerifyTime, want.VerifyTime)
	checkTime(t, "DisableTime", got.DisableTime, want.DisableTime)
}

func checkSession(t *testing.T, got, want *storage.Session) {
	t.Helper()
	if got == nil {
		t.Fatalf("session %s: got nil", want.ID)
	}
	if got.ID != want.ID || got.UserID != want.UserID || got.RevokeReason != want.RevokeReason ||
		got.RefreshSeq != want.RefreshSeq || got.UserAgent != want.UserAgent || got.ClientIP != want.ClientIP ||
		got.Generation != want.Generation {
		t.Errorf("session:\n got %+v\nwant %+v", *got, *want)
	}
	if len(got.Vars) != len(want.Vars) || fmt.Sprint(got.Vars) != fmt.Sprint(want.Vars) {
		t.Errorf("session %s vars = %v, want %v", want.ID, got.Vars, want.Vars)
	}
	checkTime(t, "CreateTime", got.CreateTime, want.CreateTime)
	checkTime(t, "RefreshTime", got.RefreshTime, want.RefreshTime)
	checkTime(t, "ExpireTime", got.ExpireTime, want.ExpireTime)
	checkTime(t, "RevokeTime", got.RevokeTime, want.RevokeTime)
}

// checkList reports got and want as a whole when their lengths differ, and otherwise calls check on each
// pair in order.
func checkList[E any](t *testing.T, what string, got, want []E, check func(i int, g, w E)) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d entries, want %d:\n got %+v\nwant %+v", what, len(got), len(want), got, want)
		return
	}
	for i := range got {
		check(i, got[i], want[i])
	}
}

// checkRevocations compares feed entries in order.
func checkRevocations(t *testing.T, got, want []storage.Revocation) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("feed = %+v, want %+v", got, want)
		return
	}
	for i := range got {
		g, w := got[i], want[i]
		if g.Seq != w.Seq || g.SessionID != w.SessionID || g.UserID != w.UserID || g.Generation != w.Generation || g.Keep != w.Keep {
			t.Errorf("feed entry %d = %+v, want %+v", i, g, w)
		}
		checkTime(t, "Revocation.ExpireTime", g.ExpireTime, w.ExpireTime)
		checkTime(t, "Revocation.RevokeTime", g.RevokeTime, w.RevokeTime)
	}
}

func checkErr(t *testing.T, what string, got, want error) {
	t.Helper()
	if !errors.Is(got, want) {
		t.Errorf("%s: error = %v, want %v", what, got, want)
	}
}

// mustUser creates a device account named username.
func mustUser(t *testing.T, st storage.Store, username string) *storage.User {
	t.Helper()
	u, err := st.CreateUser(t.Context(), storage.NewUser{
		ID: NewID(), Username: username, Kind: storage.IdentityDevice, Identity: "device-" + NewID(), Time: base,
	})
	if err != nil {
		t.Fatalf("CreateUser(%s): %v", username, err)
	}
	return u
}

// mustSession creates a live session of userID created at created and expiring at expire.
func mustSession(t *testing.T, st storage.Store, userID string, created, expire time.Time) *storage.Session {
	t.Helper()
	s := storage.Session{
		ID: NewID(), UserID: userID, CreateTime: created, RefreshTime: created, ExpireTime: expire,
		Vars: map[string]string{"k": "v"}, UserAgent: "agent/1.0", ClientIP: "192.0.2.1",
	}
	gen, err := st.CreateSession(t.Context(), s)
	if err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
	s.Generation = gen
	return &s
}

func mustSessionByID(t *testing.T, st storage.Store, id string) *storage.Session {
	t.Helper()
	s, err := st.SessionByID(t.Context(), id)
	if err != nil {
		t.Fatalf("SessionByID(%s): %v", id, err)
	}
	return s
}

// absent checks that neither the account id nor its identity can be found, as after a failed create.
func absent(t *testing.T, st storage.Store, id string, kind storage.IdentityKind, identity string) {
	t.Helper()
	if _, err := st.UserByID(t.Context(), id); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByID(%s) after failed create: error = %v, want ErrNotFound", id, err)
	}
	if _, err := st.UserByIdentity(t.Context(), kind, identity); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("UserByIdentity(%v, %s) after failed create: error = %v, want ErrNotFound", kind, identity, err)
	}
}

// kinds lists every identity kind.
var kinds = []storage.IdentityKind{
	storage.IdentityDevice, storage.IdentityEmail, storage.IdentityCustom, storage.IdentityApple,
	storage.IdentityGoogle, storage.IdentityGameCenter, storage.IdentitySteam, storage.IdentityFacebook,
	storage.IdentityFacebookInstantGame,
}

// identityFor returns a fresh identity of kind, shaped as the callers validate it.
func identityFor(kind storage.IdentityKind) string {
	switch kind {
	case storage.IdentityEmail:
		return "user-" + NewID()[:8] + "@example.com"
	case storage.IdentityDevice, storage.IdentityCustom:
		return kind.String() + "-" + NewID()
	}
	// Platform ids are numbers or opaque text; a kind prefix keeps those of different kinds apart.
	return kind.String() + ":" + NewID()
}

// passwordFor returns the password hash that linking or creating an identity of kind takes: one for an
// email, none otherwise.
func passwordFor(kind storage.IdentityKind, n int) []byte {
	if kind != storage.IdentityEmail {
		return nil
	}
	return fmt.Appendf(nil, "$2a$10$fakebcrypthash%d", n)
}

func ptr(s string) *string { return &s }

// BenchUserByID measures the account read every refresh and account call makes, with parallel readers,
// on a store as Run's newStore returns it.
func BenchUserByID(b *testing.B, st storage.Store) {
	ctx := context.Background()
	u, err := st.CreateUser(ctx, storage.NewUser{
		ID: NewID(), Username: "bench", Kind: storage.IdentityDevice, Identity: "device-bench-0001", Time: time.Now(),
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := st.UserByID(ctx, u.ID); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
