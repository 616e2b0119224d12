package js

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/dop251/goja"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// Requests and responses reach JavaScript in the shape Nakama gives them: protojson's, with field names in
// lowerCamelCase (refresh_token becomes refreshToken) and every field present, while the keys of user data
// maps (vars, metadata, headers) are kept as they are. 64-bit integers are strings, as protojson writes them.

var marshalerType = reflect.TypeFor[json.Marshaler]()

// field is a struct field with a JSON name: js is the name JavaScript sees, wire the JSON tag's.
type field struct {
	index    int
	js, wire string
}

var fieldCache sync.Map // reflect.Type -> []field

func fieldsOf(t reflect.Type) []field {
	if fs, ok := fieldCache.Load(t); ok {
		return fs.([]field)
	}
	var fs []field
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs = append(fs, field{index: i, js: lowerCamel(name), wire: name})
	}
	fieldCache.Store(t, fs)
	return fs
}

// lowerCamel is protojson's JSON name of a proto field name: each underscore is dropped and the letter after
// it upper-cased.
func lowerCamel(s string) string {
	if !strings.Contains(s, "_") {
		return s
	}
	var b strings.Builder
	up := false
	for _, r := range s {
		switch {
		case r == '_':
			up = true
		case up && 'a' <= r && r <= 'z':
			b.WriteRune(r - 'a' + 'A')
			up = false
		default:
			b.WriteRune(r)
			up = false
		}
	}
	return b.String()
}

// toJS converts a Go value to a plain JavaScript value: structs become objects with their fields' JSON names
// in lowerCamelCase, maps objects with their keys unchanged, slices arrays, nil pointers null, and a
// json.Marshaler (time.Time, api.Int64) what its JSON says.
func (v *vm) toJS(x any) goja.Value { return v.value(reflect.ValueOf(x)) }

func (v *vm) value(x reflect.Value) goja.Value {
	switch x.Kind() {
	case reflect.Invalid:
		return goja.Null()
	case reflect.Pointer, reflect.Interface:
		if x.IsNil() {
			return goja.Null()
		}
		return v.value(x.Elem())
	}
	if x.Type().Implements(marshalerType) {
		b, err := json.Marshal(x.Interface())
		var a any
		if err != nil || json.Unmarshal(b, &a) != nil {
			return goja.Null()
		}
		return v.value(reflect.ValueOf(a))
	}
	switch x.Kind() {
	case reflect.Struct:
		o := v.rt.NewObject()
		for _, f := range fieldsOf(x.Type()) {
			_ = o.Set(f.js, v.value(x.Field(f.index)))
		}
		return o
	case reflect.Map:
		o := v.rt.NewObject()
		iter := x.MapRange()
		for iter.Next() {
			k := iter.Key()
			if k.Kind() != reflect.String {
				continue
			}
			_ = o.Set(k.String(), v.value(iter.Value()))
		}
		return o
	case reflect.Slice, reflect.Array:
		items := make([]any, x.Len())
		for i := range items {
			items[i] = v.value(x.Index(i))
		}
		return v.rt.NewArray(items...)
	case reflect.String:
		return v.rt.ToValue(x.String())
	case reflect.Bool:
		return v.rt.ToValue(x.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.rt.ToValue(x.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.rt.ToValue(x.Uint())
	case reflect.Float32, reflect.Float64:
		return v.rt.ToValue(x.Float())
	}
	return goja.Undefined()
}

// decode sets dst from an exported JavaScript value (maps, slices, strings, numbers, booleans, nil), the
// reverse of toJS. A struct field is found by its lowerCamelCase name or its JSON name, as protojson accepts
// both; unknown keys are ignored. Errors name the path of the offending value.
func decode(src any, dst reflect.Value, path string) error {
	t := dst.Type()
	if src == nil {
		dst.SetZero()
		return nil
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := decode(src, p.Elem(), path); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case reflect.Struct:
		m, ok := src.(map[string]any)
		if !ok {
			return typeErr(path, "an object", src)
		}
		for _, f := range fieldsOf(t) {
			val, ok := m[f.js]
			if !ok {
				val, ok = m[f.wire]
			}
			if ok {
				if err := decode(val, dst.Field(f.index), join(path, f.js)); err != nil {
					return err
				}
			}
		}
		return nil
	case reflect.Map:
		m, ok := src.(map[string]any)
		if !ok || t.Key().Kind() != reflect.String {
			return typeErr(path, "an object", src)
		}
		out := reflect.MakeMapWithSize(t, len(m))
		for k, val := range m {
			e := reflect.New(t.Elem()).Elem()
			if err := decode(val, e, join(path, k)); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), e)
		}
		dst.Set(out)
		return nil
	case reflect.Slice:
		s, ok := src.([]any)
		if !ok {
			return typeErr(path, "an array", src)
		}
		out := reflect.MakeSlice(t, len(s), len(s))
		for i, val := range s {
			if err := decode(val, out.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(out)
		return nil
	case reflect.String:
		s, ok := src.(string)
		if !ok {
			return typeErr(path, "a string", src)
		}
		dst.SetString(s)
		return nil
	case reflect.Bool:
		b, ok := src.(bool)
		if !ok {
			return typeErr(path, "a boolean", src)
		}
		dst.SetBool(b)
		return nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := integer(src)
		if !ok || dst.OverflowInt(n) {
			return typeErr(path, "an integer", src)
		}
		dst.SetInt(n)
		return nil
	case reflect.Float32, reflect.Float64:
		switch n := src.(type) {
		case int64:
			dst.SetFloat(float64(n))
		case float64:
			dst.SetFloat(n)
		default:
			return typeErr(path, "a number", src)
		}
		return nil
	}
	return fmt.Errorf("%s: cannot be set from JavaScript", path)
}

// reflectOf is the settable value p points to.
func reflectOf(p any) reflect.Value { return reflect.ValueOf(p).Elem() }

// integer reads a whole number: a JavaScript number, or a string holding one (protojson's 64-bit integers).
func integer(src any) (int64, bool) {
	switch n := src.(type) {
	case int64:
		return n, true
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<63 {
			return int64(n), true
		}
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func typeErr(path, want string, got any) error {
	if path == "" {
		path = "value"
	}
	return fmt.Errorf("%s: expects %s, got %T", path, want, got)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Realtime envelopes reach JavaScript as Nakama gives them: protojson with lowerCamelCase names, every field
// present and enums as numbers.
var (
	envelopeOut = protojson.MarshalOptions{EmitUnpopulated: true, UseEnumNumbers: true}
	envelopeIn  = protojson.UnmarshalOptions{DiscardUnknown: true}
)

func (v *vm) protoJS(m proto.Message) (goja.Value, error) {
	b, err := envelopeOut.Marshal(m)
	if err != nil {
		return nil, err
	}
	var a any
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, err
	}
	return v.toJS(a), nil
}

func protoFromJS(ret goja.Value, m proto.Message) error {
	b, err := json.Marshal(ret.Export())
	if err != nil {
		return err
	}
	return envelopeIn.Unmarshal(b, m)
}
