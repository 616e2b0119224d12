package accounts

import (
	"errors"
	"fmt"
)

// Input and outcome errors. internal/httpapi maps each to Nakama's wire code and message.
var (
	ErrDeviceIDRequired      = errors.New("device id is required")
	ErrDeviceIDChars         = errors.New("device id contains spaces or control characters")
	ErrDeviceIDLength        = errors.New("device id must be 10-128 bytes")
	ErrCustomIDRequired      = errors.New("custom id is required")
	ErrCustomIDChars         = errors.New("custom id contains spaces or control characters")
	ErrCustomIDLength        = errors.New("custom id must be 6-128 bytes")
	ErrEmailRequired         = errors.New("email address and password are required")
	ErrEmailChars            = errors.New("email contains spaces or control characters")
	ErrEmailFormat           = errors.New("email address format is invalid")
	ErrEmailLength           = errors.New("email must be 10-255 bytes")
	ErrPasswordShort         = errors.New("password shorter than 8 bytes")
	ErrPasswordLong          = errors.New("password longer than 72 bytes")
	ErrUsernameRequired      = errors.New("username is required when no email is given")
	ErrUsernameLength        = errors.New("username must be 1-128 bytes")
	ErrUsernameChars         = errors.New("username contains spaces or control characters")
	ErrUsernameTaken         = errors.New("username is already in use")
	ErrUserNotFound          = errors.New("user account not found")
	ErrAccountNotFound       = errors.New("account not found")
	ErrBanned                = errors.New("user account banned")
	ErrInvalidCredentials    = errors.New("invalid credentials")
	ErrNoFieldsToUpdate      = errors.New("no fields to update")
	ErrInvalidUserID         = errors.New("user id is not a valid uuid")
	ErrMetadataNotJSONObject = errors.New("metadata must be a JSON object")
	// ErrLoginLocked refuses a password login to an account locked out after repeated wrong passwords;
	// it comes wrapped in a *limits.RetryError that says when the lockout ends.
	ErrLoginLocked = errors.New("too many wrong passwords, login locked for a while")
	// ErrHashBusy refuses work that needs bcrypt while its slots and queue are full; it comes wrapped in
	// a *limits.RetryError.
	ErrHashBusy = errors.New("password hashing is busy")
)

// FieldTooLongError says a profile field exceeds its column.
type FieldTooLongError struct {
	Field string // wire name, e.g. "display_name"
	Max   int    // bytes
}

func (e *FieldTooLongError) Error() string {
	return fmt.Sprintf("%s longer than %d bytes", e.Field, e.Max)
}
