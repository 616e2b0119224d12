package storage

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"time"
)

// The helpers below are the part of ImportUser that does not depend on the backend: what the imported
// account becomes, whether the stored one already is that, which of its values may clash with another
// account, and which devices change.

// Account returns the account u describes as a store holds it once imported: times in UTC at millisecond
// precision, the id and email lowercased, "{}" for empty metadata, the devices sorted without repeats and an
// empty password as none. It rejects an empty id, username or device id, which no account can have.
func (u *ImportedUser) Account() (*User, error) {
	switch {
	case u.ID == "":
		return nil, errors.New("import user: empty id")
	case u.Username == "":
		return nil, errors.New("import user: empty username")
	case slices.Contains(u.Devices, ""):
		return nil, errors.New("import user: empty device id")
	}
	a := &User{
		ID: strings.ToLower(u.ID), Username: u.Username, DisplayName: u.DisplayName, AvatarURL: u.AvatarURL,
		LangTag: u.LangTag, Location: u.Location, Timezone: u.Timezone, Metadata: u.Metadata,
		Email: strings.ToLower(u.Email), CustomID: u.CustomID,
		AppleID: u.AppleID, GoogleID: u.GoogleID, GameCenterID: u.GameCenterID, SteamID: u.SteamID,
		FacebookID: u.FacebookID, FacebookInstantGameID: u.FacebookInstantGameID,
		CreateTime: msUTC(u.CreateTime), UpdateTime: msUTC(u.UpdateTime), VerifyTime: msUTC(u.VerifyTime),
	}
	if a.Metadata == "" {
		a.Metadata = "{}"
	}
	if len(u.Password) > 0 {
		a.Password = bytes.Clone(u.Password)
	}
	if len(u.Devices) > 0 {
		a.Devices = slices.Compact(slices.Sorted(slices.Values(u.Devices)))
	}
	return a, nil
}

// msUTC returns t as a store reads it back: in UTC at millisecond precision; the zero Time stays zero.
func msUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// ImportMatches reports whether the stored account cur already is want (from Account) in every field an
// import writes; the wallet and the disable time, which imports leave alone, are not compared.
func ImportMatches(cur, want *User) bool {
	return cur.Username == want.Username && cur.DisplayName == want.DisplayName && cur.AvatarURL == want.AvatarURL &&
		cur.LangTag == want.LangTag && cur.Location == want.Location && cur.Timezone == want.Timezone &&
		cur.Metadata == want.Metadata && cur.Email == want.Email && bytes.Equal(cur.Password, want.Password) &&
		cur.CustomID == want.CustomID && cur.AppleID == want.AppleID && cur.GoogleID == want.GoogleID &&
		cur.GameCenterID == want.GameCenterID && cur.SteamID == want.SteamID && cur.FacebookID == want.FacebookID &&
		cur.FacebookInstantGameID == want.FacebookInstantGameID && slices.Equal(cur.Devices, want.Devices) &&
		msUTC(cur.CreateTime).Equal(want.CreateTime) && msUTC(cur.UpdateTime).Equal(want.UpdateTime) &&
		msUTC(cur.VerifyTime).Equal(want.VerifyTime)
}

// ImportValue is one value of an imported account that no other account may hold. Kind is 0 for the
// username.
type ImportValue struct {
	Field string
	Kind  IdentityKind
	Value string
}

// importFields names the identity kinds as ImportConflict.Field does: Nakama's column names.
var importFields = [...]string{
	IdentityDevice: "device_id", IdentityEmail: "email", IdentityCustom: "custom_id", IdentityApple: "apple_id",
	IdentityGoogle: "google_id", IdentityGameCenter: "gamecenter_id", IdentitySteam: "steam_id",
	IdentityFacebook: "facebook_id", IdentityFacebookInstantGame: "facebook_instant_game_id",
}

// CheckImport returns an *ImportConflict for the first of want's unique values that another account holds,
// or nil. cur is the stored account with want's id (nil when there is none): values it holds already are
// its own and are not looked up, wherever in it they move. holder returns the id of the account that holds
// v, "" when none.
func CheckImport(cur, want *User, holder func(v ImportValue) (string, error)) error {
	check := func(v ImportValue) error {
		if v.Value == "" || cur != nil && (v.Kind == 0 && cur.Username == v.Value || v.Kind != 0 && cur.Holds(v.Kind, v.Value)) {
			return nil
		}
		other, err := holder(v)
		if err != nil || other == "" || other == want.ID {
			return err
		}
		return &ImportConflict{Field: v.Field, Value: v.Value, OtherUserID: other}
	}
	if err := check(ImportValue{Field: "username", Value: want.Username}); err != nil {
		return err
	}
	for k := IdentityEmail; k <= IdentityFacebookInstantGame; k++ {
		if err := check(ImportValue{Field: importFields[k], Kind: k, Value: *want.field(k)}); err != nil {
			return err
		}
	}
	for _, d := range want.Devices {
		if err := check(ImportValue{Field: importFields[IdentityDevice], Kind: IdentityDevice, Value: d}); err != nil {
			return err
		}
	}
	return nil
}

// DeviceChanges returns the devices to add to cur (nil for a new account) and to remove from it so that it
// holds exactly want's.
func DeviceChanges(cur, want *User) (add, remove []string) {
	var have []string
	if cur != nil {
		have = cur.Devices
	}
	for _, d := range want.Devices {
		if !slices.Contains(have, d) {
			add = append(add, d)
		}
	}
	for _, d := range have {
		if !slices.Contains(want.Devices, d) {
			remove = append(remove, d)
		}
	}
	return add, remove
}
