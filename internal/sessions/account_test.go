package sessions

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// TestAccountActions: Ban, Unban and DeleteAccount tell the OnAccountChange listeners of each account
// they change (the account cache drops it there, whoever called), end the account's sessions, and answer
// an unknown account ErrUserNotFound without telling anyone; RevokeSession ends only a live session of
// the user named.
func TestAccountActions(t *testing.T) {
	ctx := t.Context()
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := newNode(t, t.TempDir()+"/a.db", now)
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	var changed []string
	m.OnAccountChange(func(id string) { changed = append(changed, id) })
	a, b := newUser(t, m.users, "a", now), newUser(t, m.users, "b", now)
	issue := func(u *storage.User) Issued {
		is, err := m.Issue(ctx, u, nil, Meta{})
		if err != nil {
			t.Fatal(err)
		}
		return is
	}

	sa, sb := issue(a), issue(b)
	if err := m.RevokeSession(ctx, a.ID, sb.Claims.TokenID, "admin"); !errors.Is(err, ErrSessionNotFound) {
		t.Errorf("RevokeSession of another user's session = %v, want ErrSessionNotFound", err)
	}
	if err := m.RevokeSession(ctx, a.ID, sa.Claims.TokenID, "admin"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Validate(sa.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("revoked session: Validate = %v", err)
	}
	if _, err := m.Validate(sb.Token); err != nil {
		t.Errorf("the other user's session: Validate = %v", err)
	}

	sa = issue(a)
	if n, err := m.Ban(ctx, a.ID, "test"); err != nil || n != 1 {
		t.Fatalf("Ban = %d, %v", n, err)
	}
	if err := m.Unban(ctx, a.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(changed, []string{a.ID, a.ID}) {
		t.Errorf("changes told after a ban and an unban: %v", changed)
	}

	changed = nil
	if err := m.DeleteAccount(ctx, b.ID, "test"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Validate(sb.Token); !errors.Is(err, ErrRevoked) {
		t.Errorf("a deleted account's session: Validate = %v", err)
	}
	if _, err := m.users.UserByID(ctx, b.ID); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the deleted account: UserByID = %v", err)
	}
	if len(changed) == 0 || changed[len(changed)-1] != b.ID {
		t.Errorf("changes told after a deletion: %v", changed)
	}

	changed = nil
	for name, err := range map[string]error{
		"DeleteAccount": m.DeleteAccount(ctx, b.ID, "again"),
		"Unban":         m.Unban(ctx, b.ID, "again"),
	} {
		if !errors.Is(err, ErrUserNotFound) {
			t.Errorf("%s of an unknown account = %v, want ErrUserNotFound", name, err)
		}
	}
	if _, err := m.Ban(ctx, b.ID, "again"); !errors.Is(err, ErrUserNotFound) {
		t.Errorf("Ban of an unknown account = %v, want ErrUserNotFound", err)
	}
	if len(changed) != 0 {
		t.Errorf("changes told for an unknown account: %v", changed)
	}
}
