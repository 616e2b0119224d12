package lua

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// Requests and responses reach Lua in the shape Nakama's Lua runtime gives them: the message as JSON with
// the proto field names (account, vars, refresh_token, ...), decoded into tables. api's JSON tags are those
// names, so the JSON encoding of a request is that shape.

// toLua converts a value decoded from JSON, or built of the same types (with int64 and maps or lists of
// strings too), to a Lua value.
func toLua(L *glua.LState, v any) glua.LValue {
	switch v := v.(type) {
	case nil:
		return glua.LNil
	case bool:
		return glua.LBool(v)
	case string:
		return glua.LString(v)
	case float64:
		return glua.LNumber(v)
	case int64:
		return glua.LNumber(v)
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	case []any:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, toLua(L, e))
		}
		return t
	case map[string]string:
		return stringMap(L, v)
	case []string:
		t := L.CreateTable(len(v), 0)
		for i, e := range v {
			t.RawSetInt(i+1, glua.LString(e))
		}
		return t
	}
	return glua.LNil
}

// stringMap converts a map of strings to a table; nil is an empty table.
func stringMap(L *glua.LState, m map[string]string) *glua.LTable {
	t := L.CreateTable(0, len(m))
	for k, v := range m {
		t.RawSetString(k, glua.LString(v))
	}
	return t
}

// stringsMap converts headers or query parameters to a table of lists.
func stringsMap(L *glua.LState, m map[string][]string) *glua.LTable {
	t := L.CreateTable(0, len(m))
	for k, v := range m {
		t.RawSetString(k, toLua(L, v))
	}
	return t
}

// maxDepth bounds the nesting of a table converted to Go, so that a table that contains itself fails
// instead of recursing without end.
const maxDepth = 64

// fromLua converts a Lua value as Nakama does: whole numbers become int64, a table with a sequence part
// a list (its sequence), any other table a map keyed by the keys' string forms.
func fromLua(v glua.LValue, depth int) (any, error) {
	switch v := v.(type) {
	case *glua.LNilType:
		return nil, nil
	case glua.LBool:
		return bool(v), nil
	case glua.LString:
		return string(v), nil
	case glua.LNumber:
		if f := float64(v); f == float64(int64(f)) {
			return int64(f), nil
		}
		return float64(v), nil
	case *glua.LTable:
		if depth >= maxDepth {
			return nil, errors.New("table nested too deeply (does it contain itself?)")
		}
		if n := v.MaxN(); n > 0 {
			list := make([]any, n)
			for i := range list {
				e, err := fromLua(v.RawGetInt(i+1), depth+1)
				if err != nil {
					return nil, err
				}
				list[i] = e
			}
			return list, nil
		}
		m := make(map[string]any)
		var err error
		v.ForEach(func(k, e glua.LValue) {
			if err != nil {
				return
			}
			var x any
			if x, err = fromLua(e, depth+1); err == nil {
				m[keyString(k)] = x
			}
		})
		return m, err
	}
	return v.String(), nil
}

func keyString(k glua.LValue) string {
	if n, ok := k.(glua.LNumber); ok {
		if f := float64(n); f == float64(int64(f)) {
			return strconv.FormatInt(int64(f), 10)
		}
	}
	return k.String()
}

// jsonTable converts a request or response to a table through its JSON encoding; nil (or a nil pointer)
// is an empty table, as Nakama passes a message that is not there.
func jsonTable(L *glua.LState, v any) (glua.LValue, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("lua: encoding %T: %w", v, err)
	}
	var x any
	if err := json.Unmarshal(b, &x); err != nil {
		return nil, fmt.Errorf("lua: encoding %T: %w", v, err)
	}
	if x == nil {
		return L.NewTable(), nil
	}
	return toLua(L, x), nil
}

// fromTable decodes what a before-hook returned into out, a pointer to a request, through JSON. As with
// Nakama, a field the request does not have is an error.
func fromTable(v glua.LValue, out any) error {
	if _, ok := v.(*glua.LTable); !ok {
		return fmt.Errorf("lua: a before-hook returned a %s, want a table or nil", v.Type())
	}
	x, err := fromLua(v, 0)
	if err != nil {
		return fmt.Errorf("lua: a before-hook's result: %w", err)
	}
	b, err := json.Marshal(fit(x, reflect.TypeOf(out)))
	if err != nil {
		return fmt.Errorf("lua: a before-hook's result: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(out); err != nil {
		return fmt.Errorf("lua: a before-hook's result does not fit %T: %w", out, err)
	}
	return nil
}

// fit adjusts a value converted from Lua to the Go type it decodes into, where Lua cannot say: an empty
// table is an empty list where a list is due, and a number or boolean is its string form where a string
// is due (Lua code writes vars.level = 5).
func fit(v any, t reflect.Type) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		switch x := v.(type) {
		case int64:
			return strconv.FormatInt(x, 10)
		case float64:
			return strconv.FormatFloat(x, 'g', -1, 64)
		case bool:
			return strconv.FormatBool(x)
		}
	case reflect.Slice:
		switch x := v.(type) {
		case map[string]any:
			if len(x) == 0 {
				return []any{}
			}
		case []any:
			for i := range x {
				x[i] = fit(x[i], t.Elem())
			}
		}
	case reflect.Map:
		if x, ok := v.(map[string]any); ok {
			for k, e := range x {
				x[k] = fit(e, t.Elem())
			}
		}
	case reflect.Struct:
		if x, ok := v.(map[string]any); ok {
			for i := range t.NumField() {
				f := t.Field(i)
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				if e, ok := x[name]; ok && name != "" {
					x[name] = fit(e, f.Type)
				}
			}
		}
	}
	return v
}
