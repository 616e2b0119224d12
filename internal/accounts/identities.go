package accounts

import (
	"context"
	"errors"
	"strings"

	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Identity errors. IdentityInUseError and the rest map to Nakama's wire answers in internal/httpapi.
var (
	// ErrLastIdentity refuses an unlink that would leave the account without any way to sign in, or of an
	// identity the account does not have (Nakama answers both alike).
	ErrLastIdentity = errors.New("cannot unlink the last identity, or one the account does not have")
	// ErrPlatformIDRequired: a verified platform credential named no user.
	ErrPlatformIDRequired = errors.New("platform id is required")
	// ErrTooManyUsers caps a GET /v2/user lookup.
	ErrTooManyUsers = errors.New("too many ids and usernames")
)

// IdentityInUseError says the identity belongs to another account.
type IdentityInUseError struct{ Kind storage.IdentityKind }

func (e *IdentityInUseError) Error() string { return e.Kind.String() + " identity is already in use" }

// maxPlatformIDBytes is Nakama's column width for platform ids.
const maxPlatformIDBytes = 128

// AuthenticatePlatform finds the account linked to a platform id that the caller has verified with the
// platform, creating it when create is true, as AuthenticateDevice does for a device.
func (s *Service) AuthenticatePlatform(ctx context.Context, kind storage.IdentityKind, platformID, username string, create bool) (Result, error) {
	if platformID == "" || len(platformID) > maxPlatformIDBytes {
		return Result{}, ErrPlatformIDRequired
	}
	return s.findOrCreate(ctx, kind, platformID, username, create)
}

// Link adds an identity to the account: a device id, custom id, email (with its password) or a verified
// platform id. An identity the account already has is not an error; one another account has is an
// *IdentityInUseError. Linking an email or custom id replaces the account's previous one, as in Nakama.
func (s *Service) Link(ctx context.Context, userID string, kind storage.IdentityKind, identity, password string) error {
	var hash []byte
	switch kind {
	case storage.IdentityDevice:
		if err := validateDeviceID(identity); err != nil {
			return err
		}
	case storage.IdentityCustom:
		if err := validateCustomID(identity); err != nil {
			return err
		}
	case storage.IdentityEmail:
		if identity == "" || password == "" {
			return ErrEmailRequired
		}
		if err := validateEmail(identity); err != nil {
			return err
		}
		if err := validatePassword(password); err != nil {
			return err
		}
		identity = strings.ToLower(identity)
		h, err := s.hashPassword(ctx, password)
		if err != nil {
			return err
		}
		hash = h
	default:
		if identity == "" || len(identity) > maxPlatformIDBytes {
			return ErrPlatformIDRequired
		}
	}
	err := s.users.LinkIdentity(ctx, userID, kind, identity, hash, s.clock().UTC())
	switch {
	case errors.Is(err, storage.ErrIdentityTaken):
		return &IdentityInUseError{Kind: kind}
	case errors.Is(err, storage.ErrNotFound):
		return ErrAccountNotFound
	case err != nil:
		return err
	}
	s.cache.invalidate(userID)
	return nil
}

// Unlink removes an identity from the account, unless it is the account's last one (ErrLastIdentity).
func (s *Service) Unlink(ctx context.Context, userID string, kind storage.IdentityKind, identity string) error {
	if kind == storage.IdentityEmail {
		identity = strings.ToLower(identity)
	}
	err := s.users.UnlinkIdentity(ctx, userID, kind, identity, s.clock().UTC())
	switch {
	case errors.Is(err, storage.ErrLastIdentity), errors.Is(err, storage.ErrNotFound):
		return ErrLastIdentity
	case err != nil:
		return err
	}
	s.cache.invalidate(userID)
	return nil
}

// maxUsersLookup bounds one GET /v2/user (ids, usernames and Facebook ids together).
const maxUsersLookup = 100

// Users returns the public profiles of the accounts with these ids, usernames or Facebook ids. Ids that are
// not user ids are skipped, as unknown ones are.
func (s *Service) Users(ctx context.Context, ids, usernames, facebookIDs []string) ([]storage.User, error) {
	if len(ids)+len(usernames)+len(facebookIDs) > maxUsersLookup {
		return nil, ErrTooManyUsers
	}
	valid := ids[:0:0]
	for _, id := range ids {
		if _, ok := tokens.ParseID(id); ok {
			valid = append(valid, id)
		}
	}
	out, err := s.users.UsersByIDs(ctx, valid, usernames)
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(out))
	for _, u := range out {
		seen[u.ID] = true
	}
	for _, fb := range facebookIDs {
		u, err := s.users.UserByIdentity(ctx, storage.IdentityFacebook, fb)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !seen[u.ID] {
			seen[u.ID] = true
			out = append(out, *u)
		}
	}
	return out, nil
}
