package server

import (
	"errors"
	"fmt"

	"github.com/latchkeyhq/latchkey/internal/config"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Keyrings builds the session and refresh token keyrings from the session config. Without signing keys a
// keyring is the encryption key alone, signing and verifying tokens without a kid, as Nakama does. With
// them, the active key signs (its id becomes the kid), every listed key verifies tokens carrying its id, and
// the encryption key still verifies tokens without a kid, so that no one is logged out by a migration from
// Nakama or by a rotation. Errors name keys by id or index, never by secret. Config.Validate checks more
// (key lengths, ids, secrets shared between the two kinds); Keyrings refuses only what it cannot build.
func Keyrings(s config.SessionConfig) (session, refresh *tokens.Keyring, err error) {
	session, err = keyring(s.EncryptionKey, s.SigningKeys, s.ActiveKey)
	if err != nil {
		return nil, nil, fmt.Errorf("session keys: %w", err)
	}
	refresh, err = keyring(s.RefreshEncryptionKey, s.RefreshSigningKeys, s.RefreshActiveKey)
	if err != nil {
		return nil, nil, fmt.Errorf("refresh keys: %w", err)
	}
	return session, refresh, nil
}

// keyring builds one kind's keyring from its encryption key (for tokens without a kid), its "ID:SECRET"
// entries and the id of the entry that signs.
func keyring(encryptionKey string, entries config.StringList, activeID string) (*tokens.Keyring, error) {
	if encryptionKey == "" {
		return nil, errors.New("encryption key is empty")
	}
	noKID := tokens.Key{Secret: []byte(encryptionKey)}
	if len(entries) == 0 {
		if activeID != "" {
			return nil, fmt.Errorf("active key %q set without signing keys", activeID)
		}
		return tokens.NewKeyring(noKID)
	}
	var active tokens.Key
	others := []tokens.Key{noKID}
	for i, e := range entries {
		k, ok := config.ParseSigningKey(e)
		if !ok || k.ID == "" {
			return nil, fmt.Errorf("signing key %d is not ID:SECRET", i)
		}
		key := tokens.Key{ID: k.ID, Secret: []byte(k.Secret)}
		if k.ID == activeID && active.ID == "" {
			active = key
			continue
		}
		others = append(others, key)
	}
	if active.ID == "" {
		return nil, fmt.Errorf("active key %q is not among the signing keys", activeID)
	}
	return tokens.NewKeyring(active, others...)
}
