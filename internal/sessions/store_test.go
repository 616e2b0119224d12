package sessions

import (
	"errors"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage/sqlite"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// TestTokensOfAnotherStore: tokens carry their store's id, and a manager on another store (a wiped and
// recreated database, or another deployment with the same keys) refuses them everywhere, while tokens
// without the claim (Nakama's, older Latchkey versions') are still accepted.
func TestTokensOfAnotherStore(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	a := newNode(t, t.TempDir()+"/a.db", now)
	b := newNode(t, t.TempDir()+"/b.db", now)
	for _, m := range []*Manager{a, b} {
		if err := m.Load(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if a.StoreID() == "" || a.StoreID() == b.StoreID() {
		t.Fatalf("store ids %q and %q, want two different ones", a.StoreID(), b.StoreID())
	}
	ua := newUser(t, a.users, "a", now)
	newUser(t, b.users, "a", now) // the same user id on both stores, so that only the store tells them apart
	is, err := a.Issue(ctx, ua, nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"session": is.Token, "refresh": is.RefreshToken} {
		kr := a.skeys
		if name == "refresh" {
			kr = a.rkeys
		}
		if c, err := kr.Verify(tok, now.Unix()); err != nil || c.StoreID != a.StoreID() {
			t.Errorf("%s token: sid %q, %v; want %s", name, c.StoreID, err, a.StoreID())
		}
	}
	if _, err := a.Validate(is.Token); err != nil {
		t.Errorf("own store: Validate = %v", err)
	}

	// Another store refuses both tokens, and their session does not exist there to be refreshed or ended.
	if _, err := b.Validate(is.Token); !errors.Is(err, ErrOtherStore) || !errors.Is(err, ErrRevoked) {
		t.Errorf("other store: Validate = %v, want ErrOtherStore (and ErrRevoked)", err)
	}
	if _, err := b.Authenticate(is.Token); !errors.Is(err, ErrTokenInvalid) {
		t.Errorf("other store: Authenticate = %v, want ErrTokenInvalid", err)
	}
	if _, err := b.Refresh(ctx, is.RefreshToken, nil, Meta{}); !errors.Is(err, ErrRefreshTokenInvalid) {
		t.Errorf("other store: Refresh = %v, want ErrRefreshTokenInvalid", err)
	}
	caller := tokens.Claims{UserID: ua.ID, TokenID: is.Claims.TokenID}
	if err := b.Logout(ctx, caller, is.Token, "", "", Meta{}); !errors.Is(err, ErrLogoutTokenInvalid) {
		t.Errorf("other store: Logout(token) = %v, want ErrLogoutTokenInvalid", err)
	}
	if err := b.Logout(ctx, caller, "", is.RefreshToken, "", Meta{}); !errors.Is(err, ErrLogoutRefreshInvalid) {
		t.Errorf("other store: Logout(refresh token) = %v, want ErrLogoutRefreshInvalid", err)
	}

	// The same tokens without the claim: accepted by the store that holds their session, and the session
	// token by any store (as a Nakama token is: it is checked against the denylist only).
	bare := is.Claims
	bare.StoreID = ""
	token := a.skeys.Sign(&bare)
	bare.ExpiresAt = is.RefreshExp
	refresh := a.rkeys.Sign(&bare)
	if _, err := b.Validate(token); err != nil {
		t.Errorf("token without sid: Validate on another store = %v, want nil", err)
	}
	next, err := a.Refresh(ctx, refresh, nil, Meta{})
	if err != nil {
		t.Fatalf("refresh token without sid: Refresh = %v", err)
	}
	if c, _ := a.skeys.Verify(next.Token, now.Unix()); c.StoreID != a.StoreID() {
		t.Errorf("token refreshed from one without sid: sid %q, want %s", c.StoreID, a.StoreID())
	}
}

// TestTokensOfWipedStore: reverting every migration and migrating again (what a wiped database amounts
// to) makes a new store, whose manager refuses the tokens issued before.
func TestTokensOfWipedStore(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	path := t.TempDir() + "/wiped.db"
	before := newNode(t, path, now)
	if err := before.Load(ctx); err != nil {
		t.Fatal(err)
	}
	is, err := before.Issue(ctx, newUser(t, before.users, "a", now), nil, Meta{})
	if err != nil {
		t.Fatal(err)
	}
	st := before.store.(*sqlite.Store)
	if _, err := st.MigrateDown(ctx, 0); err != nil {
		t.Fatal(err)
	}
	after := newNode(t, path, now) // migrates the emptied file again
	if err := after.Load(ctx); err != nil {
		t.Fatal(err)
	}
	if after.StoreID() == before.StoreID() {
		t.Fatalf("store id %s survived the wipe", after.StoreID())
	}
	if _, err := after.Validate(is.Token); !errors.Is(err, ErrOtherStore) {
		t.Errorf("after the wipe: Validate = %v, want ErrOtherStore", err)
	}
	// Without the store check, the refresh would find no account and answer 404 instead of 401.
	if _, err := after.Refresh(ctx, is.RefreshToken, nil, Meta{}); !errors.Is(err, ErrRefreshTokenInvalid) {
		t.Errorf("after the wipe: Refresh = %v, want ErrRefreshTokenInvalid", err)
	}
}
