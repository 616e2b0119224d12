package accounts

import "strings"

// Limits from Nakama's handlers and schema.
const (
	maxUsernameBytes = 128
	maxPasswordBytes = 72 // bcrypt's limit
	minPasswordBytes = 8
)

// hasSpaceOrControl reports an ASCII control or ASCII whitespace character, the set Nakama's
// invalidCharsRegex matches. Non-ASCII spaces such as U+00A0 are allowed, as in Nakama.
func hasSpaceOrControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return true
		}
	}
	return false
}

func validateDeviceID(id string) error {
	switch {
	case id == "":
		return ErrDeviceIDRequired
	case hasSpaceOrControl(id):
		return ErrDeviceIDChars
	case len(id) < 10 || len(id) > 128:
		return ErrDeviceIDLength
	}
	return nil
}

func validateCustomID(id string) error {
	switch {
	case id == "":
		return ErrCustomIDRequired
	case hasSpaceOrControl(id):
		return ErrCustomIDChars
	case len(id) < 6 || len(id) > 128:
		return ErrCustomIDLength
	}
	return nil
}

// validateEmail applies Nakama's rules: no spaces or controls, "something@something.something", 10-255
// bytes.
func validateEmail(email string) error {
	switch {
	case hasSpaceOrControl(email):
		return ErrEmailChars
	case !emailShape(email):
		return ErrEmailFormat
	case len(email) < 10 || len(email) > 255:
		return ErrEmailLength
	}
	return nil
}

// emailShape matches Nakama's `.+@.+\..+`: some text, an @, some text, a dot, some text. The earliest
// usable @ and the last dot leave the regex the most room, so checking that pair decides the match.
func emailShape(s string) bool {
	if len(s) < 2 {
		return false
	}
	at := strings.IndexByte(s[1:], '@')
	if at < 0 {
		return false
	}
	at++
	// The regex may pick any dot that leaves at least one character on each side of it, so look
	// for the last dot before the final character.
	dot := strings.LastIndexByte(s[:len(s)-1], '.')
	return dot >= at+2
}

func validatePassword(p string) error {
	switch {
	case len(p) < minPasswordBytes:
		return ErrPasswordShort
	case len(p) > maxPasswordBytes:
		return ErrPasswordLong
	}
	return nil
}

// ValidateUsername checks a username a client asked for. Unlike Nakama, whose rule lets a plain space
// through while its error message says spaces are not allowed, Latchkey does what the message says.
func ValidateUsername(u string) error {
	switch {
	case u == "" || len(u) > maxUsernameBytes:
		return ErrUsernameLength
	case hasSpaceOrControl(u):
		return ErrUsernameChars
	}
	return nil
}
