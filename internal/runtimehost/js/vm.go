package js

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/dop251/goja"

	"github.com/latchkeyhq/latchkey/runtime"
)

// maxCallStackSize bounds JavaScript recursion, so that a runaway recursion fails its call with a
// RangeError-like error instead of growing the VM's stack without limit.
const maxCallStackSize = 10_000

// vm is one JavaScript runtime with the module loaded. It runs one call at a time.
type vm struct {
	m          *module
	rt         *goja.Runtime
	nkObj      *goja.Object
	env        goja.Value            // ctx.env, the same for every call, as in Nakama
	logMethods map[string]goja.Value // the logger object's methods
	fns        []goja.Callable       // the registered functions, in registration order
	regs       []registration        // filled while InitModule runs
	firstLoad  bool                  // this VM's InitModule makes the module's registrations

	// The call in progress, for the server functions.
	ctx context.Context
	nk  runtime.NakamaModule
}

func newVM(m *module) *vm {
	rt := goja.New()
	rt.SetMaxCallStackSize(maxCallStackSize)
	v := &vm{m: m, rt: rt, firstLoad: m.regs == nil}
	env, _ := m.initCtx.Value(runtime.RUNTIME_CTX_ENV).(map[string]string)
	if env == nil {
		env = map[string]string{}
	}
	v.env = v.toJS(env)
	v.nkObj = v.nakama()
	v.logMethods = v.loggerMethods()
	return v
}

// watch interrupts the VM when ctx ends. The function it returns must be called once the JavaScript has
// returned: it waits for an interrupt under way and clears it, so that the VM can be reused.
func (v *vm) watch(ctx context.Context) func() {
	if ctx.Done() == nil {
		return func() {}
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		v.rt.Interrupt(context.Cause(ctx))
		close(done)
	})
	return func() {
		if !stop() {
			<-done
		}
		v.rt.ClearInterrupt()
	}
}

// call runs the registered function idx with (ctx, logger, nk, args...) and gives its result to use.
func (v *vm) call(ctx context.Context, logger runtime.Logger, nk runtime.NakamaModule, idx int,
	args func(v *vm) ([]goja.Value, error), use func(v *vm, ret goja.Value) error) error {
	stop := v.watch(ctx)
	defer stop()
	v.ctx, v.nk = ctx, nk
	defer func() { v.ctx, v.nk = nil, nil }()
	a := []goja.Value{v.ctxObject(ctx), v.logger(logger), v.nkObj}
	if args != nil {
		extra, err := args(v)
		if err != nil {
			return fmt.Errorf("javascript: %s: %w", v.m.name, err)
		}
		a = append(a, extra...)
	}
	ret, err := v.fns[idx](goja.Undefined(), a...)
	if err != nil {
		return callError(ctx, v.m.name, err)
	}
	if use == nil {
		return nil
	}
	if err := use(v, ret); err != nil {
		return fmt.Errorf("javascript: %s: %w", v.m.name, err)
	}
	return nil
}

// callError turns what a JavaScript call threw into the error the host answers with:
//   - a server function's error passed on uncaught is that error, unchanged, as for a Go module;
//   - a thrown object with a string message and/or a numeric code, Nakama's custom error, is a
//     *runtime.Error whose message and code reach the client (code 13, Internal, when it has none);
//   - anything else (a thrown Error or string, a TypeError) is a plain error carrying the stack, which the
//     host logs and answers as a generic internal error;
//   - an interrupted call is its context's error.
func callError(ctx context.Context, name string, err error) error {
	var interrupted *goja.InterruptedError
	if errors.As(err, &interrupted) {
		if e := ctx.Err(); e != nil {
			return fmt.Errorf("javascript: %s: interrupted: %w", name, e)
		}
		return fmt.Errorf("javascript: %s: interrupted", name)
	}
	var ex *goja.Exception
	if !errors.As(err, &ex) {
		return fmt.Errorf("javascript: %s: %w", name, err)
	}
	if goErr := ex.Unwrap(); goErr != nil {
		return goErr
	}
	if re := customError(ex.Value()); re != nil {
		return re
	}
	return &exceptionError{name: name, text: strings.TrimSpace(ex.String())}
}

// exceptionError is an uncaught JavaScript exception: its text has the value and the stack, for the log.
type exceptionError struct{ name, text string }

func (e *exceptionError) Error() string {
	return "javascript: " + e.name + ": uncaught exception: " + e.text
}

// customError reads Nakama's custom error, a thrown {message, code}. An Error object counts only when it
// was given a numeric code.
func customError(val goja.Value) *runtime.Error {
	obj, ok := val.(*goja.Object)
	if !ok {
		return nil
	}
	msg, hasMsg := "", false
	if m := obj.Get("message"); m != nil {
		msg, hasMsg = m.Export().(string)
	}
	code, hasCode := int64(0), false
	if c := obj.Get("code"); c != nil {
		switch n := c.Export().(type) {
		case int64:
			code, hasCode = n, true
		case float64:
			code, hasCode = int64(n), n == float64(int64(n))
		}
	}
	if obj.ClassName() == "Error" && !hasCode {
		return nil
	}
	if !hasMsg && !hasCode {
		return nil
	}
	if code <= 0 {
		code = 13
	}
	return &runtime.Error{Message: msg, Code: int(code)}
}

// describe says what went wrong at load, with the file, line and column where the exception was thrown, or
// else the file's name.
func describe(err error, name string) string {
	var ex *goja.Exception
	if !errors.As(err, &ex) {
		return name + ": " + err.Error()
	}
	msg := ex.Value().String()
	if re := customError(ex.Value()); re != nil {
		msg = fmt.Sprintf("%s (code %d)", re.Message, re.Code)
	}
	for _, f := range ex.Stack() {
		if p := f.Position(); p.Filename != "" && p.Line > 0 {
			return fmt.Sprintf("%s:%d:%d: %s", p.Filename, p.Line, p.Column, msg)
		}
	}
	return name + ": " + msg
}

// Argument helpers for the functions JavaScript calls: a wrong argument throws a TypeError, as in Nakama.

func nullish(x goja.Value) bool { return x == nil || goja.IsUndefined(x) || goja.IsNull(x) }

func (v *vm) typeError(format string, a ...any) {
	panic(v.rt.NewTypeError("%s", fmt.Sprintf(format, a...)))
}

func (v *vm) str(c goja.FunctionCall, i int, what string) string {
	s, ok := c.Argument(i).Export().(string)
	if !ok {
		v.typeError("expects %s to be a string", what)
	}
	return s
}

func (v *vm) optStr(c goja.FunctionCall, i int, what string) string {
	if nullish(c.Argument(i)) {
		return ""
	}
	return v.str(c, i, what)
}

func (v *vm) optBool(c goja.FunctionCall, i int, what string, def bool) bool {
	if nullish(c.Argument(i)) {
		return def
	}
	b, ok := c.Argument(i).Export().(bool)
	if !ok {
		v.typeError("expects %s to be a boolean", what)
	}
	return b
}

func (v *vm) int(c goja.FunctionCall, i int, what string) int64 {
	n, ok := integer(c.Argument(i).Export())
	if _, isStr := c.Argument(i).Export().(string); !ok || isStr {
		v.typeError("expects %s to be an integer", what)
	}
	return n
}

func (v *vm) optInt(c goja.FunctionCall, i int, what string, def int64) int64 {
	if nullish(c.Argument(i)) {
		return def
	}
	return v.int(c, i, what)
}

func (v *vm) strs(c goja.FunctionCall, i int, what string) []string {
	if nullish(c.Argument(i)) {
		return nil
	}
	var out []string
	if err := decode(c.Argument(i).Export(), reflectOf(&out), what); err != nil {
		v.typeError("expects %s to be an array of strings", what)
	}
	return out
}

func (v *vm) strMap(c goja.FunctionCall, i int, what string) map[string]string {
	if nullish(c.Argument(i)) {
		return nil
	}
	var out map[string]string
	if err := decode(c.Argument(i).Export(), reflectOf(&out), what); err != nil {
		v.typeError("expects %s to be an object of strings", what)
	}
	return out
}

func (v *vm) fn(c goja.FunctionCall, i int) goja.Callable {
	fn, ok := goja.AssertFunction(c.Argument(i))
	if !ok {
		v.typeError("expects a function")
	}
	return fn
}
