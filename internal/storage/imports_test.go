package storage_test

import (
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// TestImportMatchesEveryField changes each field an import writes, one at a time, and expects the stored
// account to no longer match: a field left out of the comparison would be reported unchanged and never
// written.
func TestImportMatchesEveryField(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)
	in := storage.ImportedUser{
		ID: "0b8e7e1c-4c1e-4a53-9d0c-1f2e3d4c5b6a", Username: "u", DisplayName: "d", AvatarURL: "a", LangTag: "en",
		Location: "l", Timezone: "z", Metadata: `{"k":1}`, Email: "e@example.com", Password: []byte("$2a$10$hash"),
		CustomID: "c", AppleID: "ap", FacebookID: "fb", FacebookInstantGameID: "fbig", GoogleID: "g",
		GameCenterID: "gc", SteamID: "s", Devices: []string{"d1", "d2"}, CreateTime: at, UpdateTime: at, VerifyTime: at,
	}
	stored, err := in.Account()
	if err != nil {
		t.Fatal(err)
	}
	if !storage.ImportMatches(stored, stored) {
		t.Fatal("an account does not match itself")
	}
	// The wallet and the ban are not the import's.
	other := *stored
	other.Wallet, other.DisableTime = `{"gold":1}`, at
	if !storage.ImportMatches(&other, stored) {
		t.Error("wallet and disable time take part in the comparison")
	}
	later := at.Add(time.Millisecond)
	changes := map[string]func(u *storage.User){
		"Username": func(u *storage.User) { u.Username = "x" }, "DisplayName": func(u *storage.User) { u.DisplayName = "x" },
		"AvatarURL": func(u *storage.User) { u.AvatarURL = "x" }, "LangTag": func(u *storage.User) { u.LangTag = "x" },
		"Location": func(u *storage.User) { u.Location = "x" }, "Timezone": func(u *storage.User) { u.Timezone = "x" },
		"Metadata": func(u *storage.User) { u.Metadata = "{}" }, "Email": func(u *storage.User) { u.Email = "" },
		"Password": func(u *storage.User) { u.Password = nil }, "CustomID": func(u *storage.User) { u.CustomID = "" },
		"AppleID": func(u *storage.User) { u.AppleID = "" }, "GoogleID": func(u *storage.User) { u.GoogleID = "" },
		"GameCenterID": func(u *storage.User) { u.GameCenterID = "" }, "SteamID": func(u *storage.User) { u.SteamID = "" },
		"FacebookID":            func(u *storage.User) { u.FacebookID = "" },
		"FacebookInstantGameID": func(u *storage.User) { u.FacebookInstantGameID = "" },
		"Devices":               func(u *storage.User) { u.Devices = []string{"d1"} },
		"CreateTime":            func(u *storage.User) { u.CreateTime = later },
		"UpdateTime":            func(u *storage.User) { u.UpdateTime = later },
		"VerifyTime":            func(u *storage.User) { u.VerifyTime = time.Time{} },
	}
	for field, change := range changes {
		cur := *stored
		change(&cur)
		if storage.ImportMatches(&cur, stored) {
			t.Errorf("%s differs but ImportMatches reports a match", field)
		}
	}
}

// TestImportAccount checks what an imported account is stored as.
func TestImportAccount(t *testing.T) {
	in := storage.ImportedUser{
		ID: "0B8E7E1C-4C1E-4A53-9D0C-1F2E3D4C5B6A", Username: "u", Email: "Mixed@Example.COM", Password: []byte{},
		Devices:    []string{"b", "a", "b"},
		CreateTime: time.Date(2024, 5, 6, 7, 8, 9, 123_456_789, time.FixedZone("X", 3600)),
	}
	got, err := in.Account()
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != "0b8e7e1c-4c1e-4a53-9d0c-1f2e3d4c5b6a" || got.Email != "mixed@example.com" || got.Metadata != "{}" ||
		got.Password != nil || len(got.Devices) != 2 || got.Devices[0] != "a" || got.Devices[1] != "b" {
		t.Errorf("Account() = %+v", got)
	}
	if want := time.Date(2024, 5, 6, 6, 8, 9, 123_000_000, time.UTC); got.CreateTime != want || !got.VerifyTime.IsZero() {
		t.Errorf("CreateTime, VerifyTime = %v, %v; want %v and zero", got.CreateTime, got.VerifyTime, want)
	}
	for name, bad := range map[string]storage.ImportedUser{
		"no id": {Username: "u"}, "no username": {ID: in.ID}, "empty device": {ID: in.ID, Username: "u", Devices: []string{""}},
	} {
		if _, err := bad.Account(); err == nil {
			t.Errorf("%s: Account() succeeded", name)
		}
	}
}
