package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// Error is a configuration that could not be loaded or is not valid. It lists every problem found, so that one
// run shows everything to fix.
type Error struct {
	Problems []string
}

// Error returns the problems, one per line.
func (e *Error) Error() string {
	return strings.Join(e.Problems, "\n")
}

// errorOf returns nil for no problems, so that callers never get a non-nil error holding a nil *Error.
func errorOf(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return &Error{Problems: problems}
}

// Load builds the configuration from args (without the program or command name) and the environment. Each
// source overrides the ones before it:
//
//  1. Default();
//  2. YAML files named by --config FILE (repeatable, applied in order);
//  3. environment variables LATCHKEY_<KEY>, the dotted key upper-cased with dots as underscores, for example
//     LATCHKEY_SESSION_TOKEN_EXPIRY_SEC; an empty variable counts as unset;
//  4. flags --KEY VALUE or --KEY=VALUE, also with a single dash; a bool flag may be bare when no value
//     follows (the next argument starts with "-" or there is none).
//
// A list key (runtime.env, database.address, session.signing_keys, ...) set by the environment or by flags
// replaces the list from the sources before; repeated flags each add an entry. In the environment a list has
// one entry per line, because commas occur in the values (multi-host PostgreSQL URLs, JSON in runtime.env,
// secrets).
//
// Arguments that are not flags are returned in rest, in order, as are -h, -help and --help; "--" ends the flags
// and everything after it goes to rest. A nil getenv means an empty environment.
//
// Unreadable files, unknown keys or flags and values of the wrong type are all collected into one *Error. The
// returned cfg then holds whatever could be applied. Load does not call Validate.
//
// Settings of Nakama's that Latchkey does not use (whole sections such as console or metrics, and keys such as
// socket.ssl_certificate) are not errors, in files or as flags, so that a Nakama config file and command line
// work unchanged: their values are skipped unread, and Warnings names them. An ignored flag takes the next
// argument as its value unless that starts with "-" or there is none, as a bool flag does. The environment is
// read only for Latchkey's own keys; EnvWarnings names any other LATCHKEY_ variable, a Nakama setting or a
// typo.
func Load(args []string, getenv func(string) string) (cfg Config, rest []string, err error) {
	cfg = Default()
	files, flags, rest := parseArgs(args)

	var problems []string
	for _, path := range files {
		problems = append(problems, loadFile(&cfg, path)...)
	}
	if getenv != nil {
		problems = append(problems, applyEnv(&cfg, getenv)...)
	}
	problems = append(problems, applyFlags(&cfg, flags)...)
	cfg.ignored = sortedUnique(cfg.ignored)
	cfg.failed = sortedUnique(cfg.failed)
	return cfg, rest, errorOf(problems)
}

// LoadValid is Load followed by Validate, with the problems of both in one *Error, so that a value of the
// wrong type does not hide a value out of range until the next run. A key whose value Load could not apply
// is not validated: its problem is already reported, and the value left in its place is not the one given.
func LoadValid(args []string, getenv func(string) string) (Config, []string, error) {
	cfg, rest, err := Load(args, getenv)
	var problems []string
	var ce *Error
	if errors.As(err, &ce) {
		problems = append(problems, ce.Problems...)
	} else if err != nil {
		return cfg, rest, err
	}
	if err := cfg.Validate(); errors.As(err, &ce) {
		for _, p := range ce.Problems {
			if !slices.Contains(cfg.failed, problemKey(p)) {
				problems = append(problems, p)
			}
		}
	} else if err != nil {
		return cfg, rest, err
	}
	return cfg, rest, errorOf(problems)
}

// problemKey returns the key a problem of Validate's starts with: "socket.port" of "socket.port: must be ...".
func problemKey(problem string) string {
	end := strings.IndexAny(problem, ": ")
	if end < 0 {
		return problem
	}
	return problem[:end]
}

// flagArg is one parsed flag: a key and its raw value, an ignored Nakama setting, or the problem that made it
// unusable.
type flagArg struct {
	spelled string // as written, for messages: "--socket.port"
	field   field
	value   string
	ignored string // the entry of nakamaIgnored that covers the flag; its value is dropped
	problem string
}

// parseArgs splits args into config files, flags and the rest. It interprets flag syntax only; values are
// applied later so that flags win over files and the environment wherever they appear.
func parseArgs(args []string) (files []string, flags []flagArg, rest []string) {
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			rest = append(rest, args[i+1:]...)
			break
		}
		if len(arg) < 2 || arg[0] != '-' || arg == "-h" || arg == "-help" || arg == "--help" {
			rest = append(rest, arg)
			continue
		}
		dashes := 1
		if arg[1] == '-' {
			dashes = 2
		}
		name, value, hasValue := strings.Cut(arg[dashes:], "=")
		spelled := arg[:dashes] + name
		// next consumes the following argument as this flag's value.
		next := func() bool {
			if hasValue {
				return true
			}
			if i+1 < len(args) {
				i++
				value = args[i]
				return true
			}
			return false
		}
		if name == "config" {
			if !next() || value == "" {
				flags = append(flags, flagArg{spelled: spelled, problem: "flag " + spelled + " needs a file name"})
				continue
			}
			files = append(files, value)
			continue
		}
		f, ok := lookupField(name)
		if entry, ignored := nakamaIgnoredEntry(name); ignored {
			// Its type is unknown here, so it is read like a bool flag: a value follows unless a flag does.
			if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
				i++
			}
			flags = append(flags, flagArg{spelled: spelled, ignored: entry})
			continue
		}
		if !ok {
			// An unknown flag does not take the next argument: it might have been meant as a bool.
			flags = append(flags, flagArg{spelled: spelled, problem: "unknown flag " + spelled + suggest(name)})
			continue
		}
		if f.kind == kindBool && !hasValue && (i+1 == len(args) || strings.HasPrefix(args[i+1], "-")) {
			flags = append(flags, flagArg{spelled: spelled, field: f, value: "true"})
			continue
		}
		if !next() {
			flags = append(flags, flagArg{spelled: spelled, problem: "flag " + spelled + " needs a value"})
			continue
		}
		flags = append(flags, flagArg{spelled: spelled, field: f, value: value})
	}
	return files, flags, rest
}

// applyEnv sets every key whose environment variable is non-empty.
func applyEnv(cfg *Config, getenv func(string) string) []string {
	var problems []string
	v := reflect.ValueOf(cfg).Elem()
	for _, f := range fieldTable() {
		raw := getenv(f.env)
		if raw == "" {
			continue
		}
		dst := v.FieldByIndex(f.index)
		if f.kind == kindList {
			dst.Set(reflect.Zero(dst.Type()))
			for _, line := range strings.Split(raw, "\n") {
				if line = strings.TrimSuffix(line, "\r"); line != "" {
					dst.Set(reflect.Append(dst, reflect.ValueOf(line).Convert(dst.Type().Elem())))
				}
			}
			continue
		}
		if msg := setString(dst, f.kind, raw); msg != "" {
			problems = append(problems, f.env+": "+msg)
			cfg.failed = append(cfg.failed, f.name)
		}
	}
	return problems
}

// applyFlags applies parsed flags in order. The first flag for a list replaces the list; later ones append.
func applyFlags(cfg *Config, flags []flagArg) []string {
	var problems []string
	v := reflect.ValueOf(cfg).Elem()
	cleared := map[string]bool{}
	for _, fl := range flags {
		if fl.problem != "" {
			problems = append(problems, fl.problem)
			continue
		}
		if fl.ignored != "" {
			cfg.ignored = append(cfg.ignored, fl.ignored)
			continue
		}
		dst := v.FieldByIndex(fl.field.index)
		if fl.field.kind == kindList {
			if !cleared[fl.field.name] {
				dst.Set(reflect.Zero(dst.Type()))
				cleared[fl.field.name] = true
			}
			dst.Set(reflect.Append(dst, reflect.ValueOf(fl.value).Convert(dst.Type().Elem())))
			continue
		}
		if msg := setString(dst, fl.field.kind, fl.value); msg != "" {
			problems = append(problems, fl.spelled+": "+msg)
			cfg.failed = append(cfg.failed, fl.field.name)
		}
	}
	return problems
}

// setString parses raw as a scalar of kind k into dst, returning a problem or "". Messages quote the value only
// for ints and bools: a string key may hold a secret.
func setString(dst reflect.Value, k kind, raw string) string {
	switch k {
	case kindString:
		dst.SetString(raw)
	case kindInt:
		n, err := strconv.ParseInt(raw, 10, dst.Type().Bits())
		if errors.Is(err, strconv.ErrRange) {
			return fmt.Sprintf("integer %q out of range", raw)
		}
		if err != nil {
			return fmt.Sprintf("want an integer, got %q", raw)
		}
		dst.SetInt(n)
	case kindBool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Sprintf("want true or false, got %q", raw)
		}
		dst.SetBool(b)
	default:
		panic("config: setString on a list")
	}
	return ""
}
