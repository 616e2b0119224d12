package js

import (
	"context"
	"slices"

	"github.com/dop251/goja"

	"github.com/latchkeyhq/latchkey/runtime"
)

// ctxFields are the properties of Nakama's JavaScript context object, in Nakama's order, with the runtime
// value each comes from. Caller fields are present only when known, as in Nakama.
var ctxFields = []struct {
	name, key string
	always    bool
}{
	{"env", runtime.RUNTIME_CTX_ENV, true},
	{"executionMode", runtime.RUNTIME_CTX_MODE, true},
	{"node", runtime.RUNTIME_CTX_NODE, true},
	{"headers", runtime.RUNTIME_CTX_HEADERS, false},
	{"queryParams", runtime.RUNTIME_CTX_QUERY_PARAMS, false},
	{"userSessionExp", runtime.RUNTIME_CTX_USER_SESSION_EXP, false},
	{"userId", runtime.RUNTIME_CTX_USER_ID, false},
	{"username", runtime.RUNTIME_CTX_USERNAME, false},
	{"vars", runtime.RUNTIME_CTX_VARS, false},
	{"sessionId", runtime.RUNTIME_CTX_SESSION_ID, false},
	{"lang", runtime.RUNTIME_CTX_LANG, false},
	{"clientIp", runtime.RUNTIME_CTX_CLIENT_IP, false},
	{"clientPort", runtime.RUNTIME_CTX_CLIENT_PORT, false},
}

// jsContext is the ctx object a function gets. It reads the runtime values of the Go context when a
// property is first read, so a call pays only for what it looks at; otherwise it behaves as a plain object
// (properties can be set, added and deleted; JSON.stringify and spreading see them all).
type jsContext struct {
	v       *vm
	ctx     context.Context
	own     map[string]goja.Value // properties read, set or added
	deleted map[string]bool
	added   []string // properties JavaScript added, in order
}

func (v *vm) ctxObject(ctx context.Context) *goja.Object {
	return v.rt.NewDynamicObject(&jsContext{v: v, ctx: ctx})
}

// native reads the property name from the Go context; nil when the context has no value for it.
func (c *jsContext) native(name string) goja.Value {
	for _, f := range ctxFields {
		if f.name != name {
			continue
		}
		x := c.ctx.Value(f.key)
		switch x := x.(type) {
		case nil:
			if f.always {
				return c.v.rt.ToValue("")
			}
			return nil
		case string:
			if x == "" && !f.always {
				return nil
			}
			return c.v.rt.ToValue(x)
		case int64:
			if x == 0 {
				return nil
			}
			return c.v.rt.ToValue(x)
		case map[string]string:
			if name == "env" {
				return c.v.env
			}
		}
		return c.v.toJS(x)
	}
	return nil
}

func isCtxField(name string) bool {
	for _, f := range ctxFields {
		if f.name == name {
			return true
		}
	}
	return false
}

func (c *jsContext) Get(key string) goja.Value {
	if val, ok := c.own[key]; ok {
		return val
	}
	if c.deleted[key] {
		return nil
	}
	val := c.native(key)
	if val != nil {
		if c.own == nil {
			c.own = map[string]goja.Value{}
		}
		c.own[key] = val // an object read twice is the same object
	}
	return val
}

func (c *jsContext) Set(key string, val goja.Value) bool {
	if c.own == nil {
		c.own = map[string]goja.Value{}
	}
	if !isCtxField(key) && !slices.Contains(c.added, key) {
		c.added = append(c.added, key)
	}
	c.own[key] = val
	delete(c.deleted, key)
	return true
}

func (c *jsContext) Has(key string) bool { return c.Get(key) != nil }

func (c *jsContext) Delete(key string) bool {
	delete(c.own, key)
	if c.deleted == nil {
		c.deleted = map[string]bool{}
	}
	c.deleted[key] = true
	c.added = slices.DeleteFunc(c.added, func(s string) bool { return s == key })
	return true
}

func (c *jsContext) Keys() []string {
	keys := make([]string, 0, len(ctxFields)+len(c.added))
	for _, f := range ctxFields {
		if c.Has(f.name) {
			keys = append(keys, f.name)
		}
	}
	for _, k := range c.added {
		if c.Has(k) {
			keys = append(keys, k)
		}
	}
	return keys
}
