package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// decodeBody reads a JSON request body into dst the way Nakama's gateway (protojson) does: an empty body
// is an empty message, unknown fields are ignored, a field may be spelled snake_case or lowerCamelCase,
// null means "not set", and a value of the wrong type is a 400 that names the field.
func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, dst any) error {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return errBodyTooLarge
		}
		return badRequest("Could not read request body.")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest("Request body must be a JSON object.")
		}
		return badRequest("Invalid JSON in request body: %s.", describeSyntaxError(err))
	}
	if len(fields) == 0 {
		return nil
	}
	normal := make(map[string]json.RawMessage, len(fields))
	for k, v := range fields {
		sk := snakeCase(k)
		if _, exact := fields[sk]; exact && sk != k {
			continue // the proto name wins over its camelCase spelling
		}
		normal[sk] = v
	}
	buf, err := json.Marshal(normal)
	if err != nil {
		return badRequest("Invalid JSON in request body.")
	}
	if err := json.Unmarshal(buf, dst); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return badRequest("Invalid value for field %q: expected %s.", ute.Field, ute.Type.String())
		}
		return badRequest("Invalid JSON in request body.")
	}
	return nil
}

func describeSyntaxError(err error) string {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return strings.TrimPrefix(se.Error(), "invalid character ") + " at offset " + strconv.FormatInt(se.Offset, 10)
	}
	if errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(err.Error(), "unexpected end") {
		return "unexpected end of input"
	}
	return "malformed"
}

// snakeCase turns lowerCamelCase into snake_case; snake_case passes unchanged.
func snakeCase(s string) string {
	if strings.IndexFunc(s, unicode.IsUpper) < 0 {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// queryBool parses an optional boolean query parameter; absent means def.
func queryBool(r *http.Request, name string, def bool) (bool, error) {
	v, ok := r.URL.Query()[name]
	if !ok || len(v) == 0 || v[0] == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v[0])
	if err != nil {
		return false, badRequest("Invalid value for query parameter %q: must be true or false.", name)
	}
	return b, nil
}

// writeJSON writes v with Nakama's response headers.
func writeJSON(w http.ResponseWriter, status int, v any) {
	e := jsonEncoders.Get().(*jsonEncoder)
	defer e.release()
	b, err := e.encode(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"code":13,"message":"Internal server error."}`)
	}
	writeBody(w, status, b)
}

// marshalJSON returns v encoded as writeJSON writes it, in a slice of its own.
func marshalJSON(v any) ([]byte, error) {
	e := jsonEncoders.Get().(*jsonEncoder)
	defer e.release()
	b, err := e.encode(v)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(b), nil
}

// Header values of every JSON answer, shared: net/http only reads them, and Header.Set and Header.Add
// replace the slice or append to it (a slice of capacity 1 is copied), so none of them is ever changed.
var (
	headerJSON    = []string{"application/json"}
	headerNoStore = []string{"no-store, no-cache, must-revalidate"}
)

// writeBody writes a JSON answer body with Nakama's response headers.
func writeBody(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = headerJSON
	h["Cache-Control"] = headerNoStore
	w.WriteHeader(status)
	w.Write(body)
}

// jsonEncoder is an encoder with its buffer, reused across answers through jsonEncoders.
type jsonEncoder struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonEncoders = sync.Pool{New: func() any {
	e := &jsonEncoder{}
	e.enc = json.NewEncoder(&e.buf)
	e.enc.SetEscapeHTML(false)
	return e
}}

// encode returns v's JSON without the encoder's trailing newline, in the encoder's buffer: valid until
// release.
func (e *jsonEncoder) encode(v any) ([]byte, error) {
	e.buf.Reset()
	if err := e.enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(e.buf.Bytes(), []byte("\n")), nil
}

// release returns the encoder to the pool, unless an unusually large answer grew its buffer.
func (e *jsonEncoder) release() {
	if e.buf.Cap() <= 64<<10 {
		jsonEncoders.Put(e)
	}
}
