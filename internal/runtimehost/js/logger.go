package js

import (
	"fmt"
	"maps"

	"github.com/dop251/goja"

	"github.com/latchkeyhq/latchkey/runtime"
)

// loggerMethodNames are the methods of Nakama's JavaScript logger.
var loggerMethodNames = []string{"debug", "info", "warn", "error", "withField", "withFields", "getFields"}

// jsLogger is a logger object: the Go logger and the fields added in JavaScript. Its methods are made once
// per VM, so that the logger a call gets costs one small object. Like Nakama's, it is frozen.
type jsLogger struct {
	v      *vm
	l      runtime.Logger
	fields map[string]any
}

func (j *jsLogger) Get(key string) goja.Value    { return j.v.logMethods[key] }
func (j *jsLogger) Set(string, goja.Value) bool  { return false }
func (j *jsLogger) Has(key string) bool          { _, ok := j.v.logMethods[key]; return ok }
func (j *jsLogger) Delete(string) bool           { return false }
func (j *jsLogger) Keys() []string               { return loggerMethodNames }
func (v *vm) logger(l runtime.Logger) goja.Value { return v.rt.NewDynamicObject(&jsLogger{v: v, l: l}) }

func (v *vm) this(c goja.FunctionCall) *jsLogger {
	if o, ok := c.This.(*goja.Object); ok {
		if jl, ok := o.Export().(*jsLogger); ok {
			return jl
		}
	}
	v.typeError("logger method called on something that is not a logger")
	return nil
}

// loggerMethods makes debug, info, warn and error (format, ...args), formatted as Go's fmt.Sprintf with the
// arguments' exported values, as in Nakama, which return the message logged, as Nakama's declarations say;
// and withField, withFields and getFields.
func (v *vm) loggerMethods() map[string]goja.Value {
	level := func(log func(runtime.Logger, string)) func(goja.FunctionCall) goja.Value {
		return func(c goja.FunctionCall) goja.Value {
			jl := v.this(c)
			format, ok := c.Argument(0).Export().(string)
			if !ok {
				v.typeError("invalid format argument: must be a string")
			}
			msg := format
			if len(c.Arguments) > 1 {
				args := make([]any, len(c.Arguments)-1)
				for i, a := range c.Arguments[1:] {
					args[i] = a.Export()
				}
				msg = fmt.Sprintf(format, args...)
			}
			log(jl.l, msg)
			return v.rt.ToValue(msg)
		}
	}
	with := func(jl *jsLogger, add map[string]any, l runtime.Logger) goja.Value {
		fields := maps.Clone(jl.fields)
		if fields == nil {
			fields = map[string]any{}
		}
		maps.Copy(fields, add)
		return v.rt.NewDynamicObject(&jsLogger{v: v, l: l, fields: fields})
	}
	methods := map[string]func(goja.FunctionCall) goja.Value{
		"debug": level(func(l runtime.Logger, s string) { l.Debug("%s", s) }),
		"info":  level(func(l runtime.Logger, s string) { l.Info("%s", s) }),
		"warn":  level(func(l runtime.Logger, s string) { l.Warn("%s", s) }),
		"error": level(func(l runtime.Logger, s string) { l.Error("%s", s) }),
		"withField": func(c goja.FunctionCall) goja.Value {
			jl := v.this(c)
			key, val := v.str(c, 0, "key"), c.Argument(1).Export()
			return with(jl, map[string]any{key: val}, jl.l.WithField(key, val))
		},
		"withFields": func(c goja.FunctionCall) goja.Value {
			jl := v.this(c)
			add, ok := c.Argument(0).Export().(map[string]any)
			if !ok {
				v.typeError("argument must be an object")
			}
			return with(jl, add, jl.l.WithFields(add))
		},
		"getFields": func(c goja.FunctionCall) goja.Value {
			jl := v.this(c)
			fields := maps.Clone(jl.l.Fields())
			if fields == nil {
				fields = map[string]any{}
			}
			maps.Copy(fields, jl.fields)
			return v.toJS(fields)
		},
	}
	out := make(map[string]goja.Value, len(methods))
	for name, fn := range methods {
		out[name] = v.rt.ToValue(fn)
	}
	return out
}
