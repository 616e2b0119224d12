package lua

import (
	"context"
	"errors"
	"fmt"
	"strings"

	glua "github.com/yuin/gopher-lua"

	"github.com/latchkeyhq/latchkey/runtime"
)

// Kinds of registration, as the keys of a state's callbacks.
const (
	kindRPC      = "rpc"
	kindBefore   = "before"
	kindAfter    = "after"
	kindRtBefore = "rt_before"
	kindRtAfter  = "rt_after"
)

// registration is one nk.register_* call: kind, the id or message name as the module wrote it, and the
// key of the function in every state's callbacks.
type registration struct {
	kind, id, key string
}

// state is one Lua state with every module loaded.
type state struct {
	r *luaRuntime
	L *glua.LState
	// callbacks are this state's registered functions by key; order lists the registrations as first made.
	callbacks map[string]*glua.LFunction
	order     []registration
	// log is the logger of the call running, or the module's logger while loading.
	log runtime.Logger
	// goErr is the last error a server function raised in the call running, kept so that, when the call
	// fails with it, the host sees the Go error itself and answers it as the REST API would.
	goErr error
}

// Lua states are small: Nakama's defaults are a call stack of 128 and a registry of 512 values. The
// registry may grow, to a bound, for modules that build large tables.
const (
	callStackSize   = 128
	registrySize    = 1024
	registryMaxSize = 256 * 1024
)

// newState makes a sandboxed state and loads every module into it, with `require` semantics: each module
// runs once, in the order of the module names, unless an earlier one required it.
func (r *luaRuntime) newState() (*state, error) {
	L := glua.NewState(glua.Options{
		CallStackSize: callStackSize, RegistrySize: registrySize, RegistryMaxSize: registryMaxSize,
		SkipOpenLibs: true,
	})
	s := &state{r: r, L: L, callbacks: map[string]*glua.LFunction{}, log: r.log}
	openLibs(L)
	require := L.GetGlobal("require")
	preload := L.GetField(L.GetField(L.Get(glua.EnvironIndex), "package"), "preload").(*glua.LTable)
	preload.RawSetString("nakama", L.NewFunction(s.openNakama))
	for _, m := range r.mods {
		preload.RawSetString(m.name, L.NewFunctionFromProto(m.proto))
	}
	for _, m := range r.mods {
		L.Push(require)
		L.Push(glua.LString(m.name))
		if err := L.PCall(1, 0, nil); err != nil {
			L.Close()
			var ae *glua.ApiError
			if errors.As(err, &ae) {
				// The message starts with the file and line, of this module or one it required.
				return nil, fmt.Errorf("lua: loading module %s: %s", m.name, ae.Object.String())
			}
			return nil, fmt.Errorf("lua: loading module %s: %w", m.name, err)
		}
	}
	return s, nil
}

// openLibs opens Nakama's set of libraries: base, package, table, string, math, a part of os (clock, date,
// difftime, time) and bit32. There is no io, debug or coroutine, no dofile or loadfile, and `require`
// finds only the modules of the runtime path and "nakama", never a file of its own.
func openLibs(L *glua.LState) {
	for _, lib := range []struct {
		name string
		open glua.LGFunction
	}{
		{glua.LoadLibName, glua.OpenPackage}, {glua.BaseLibName, glua.OpenBase}, {glua.TabLibName, glua.OpenTable},
		{glua.StringLibName, glua.OpenString}, {glua.MathLibName, glua.OpenMath}, {glua.OsLibName, openOs},
		{bit32LibName, openBit32},
	} {
		L.Push(L.NewFunction(lib.open))
		L.Push(glua.LString(lib.name))
		L.Call(1, 0)
	}
	for _, name := range []string{"dofile", "loadfile", "_printregs"} {
		L.SetGlobal(name, glua.LNil)
	}
	pkg := L.GetGlobal("package").(*glua.LTable)
	loaders := L.GetField(pkg, "loaders").(*glua.LTable)
	only := L.CreateTable(1, 0)
	only.RawSetInt(1, loaders.RawGetInt(1)) // package.preload; the file loader goes
	L.SetField(pkg, "loaders", only)
	L.SetField(L.Get(glua.RegistryIndex), "_LOADERS", only)
	L.SetField(pkg, "path", glua.LString(""))
}

// register returns nk.register_rpc and the like: fn, id. Message names of request hooks are checked here,
// so that a module registering one Latchkey does not serve fails to load, naming the file and line.
func (s *state) register(kind string) glua.LGFunction {
	return func(L *glua.LState) int {
		fn := L.CheckFunction(1)
		id := L.CheckString(2)
		if id == "" {
			L.ArgError(2, "expects an id")
		}
		if kind == kindBefore || kind == kindAfter {
			if _, ok := reqHooks[strings.ToLower(id)]; !ok {
				L.RaiseError("nk.register_req_%s: %q is not a message Latchkey serves", kind, id)
			}
		}
		key := kind + ":" + strings.ToLower(id)
		if _, seen := s.callbacks[key]; !seen {
			s.order = append(s.order, registration{kind: kind, id: id, key: key})
		}
		s.callbacks[key] = fn
		return 0
	}
}

// ctx is the context of the call running, for server functions.
func (s *state) ctx() context.Context {
	if ctx := s.L.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// raise fails the Lua call with a server function's error; see state.goErr.
func (s *state) raise(err error) int {
	s.goErr = err
	s.L.RaiseError("%s", err.Error())
	return 0
}

// invoke runs the function registered under key in a state from the pool, with the context table and the
// arguments args makes, and gives its first result to read (nil: results are ignored). The state goes back
// to the pool when the call has returned, or is dropped if the call overran or panicked.
//
// The call runs with the host's deadline as the state's context, so that a runaway loop stops there (the
// host answers the overrun), and a call that waits for a state gives up then too.
func (r *luaRuntime) invoke(ctx context.Context, log runtime.Logger, key string, args func(*state) ([]glua.LValue, error), read func(glua.LValue) error) error {
	s, err := r.pool.Get(ctx)
	if err != nil {
		return err
	}
	keep := true
	defer func() {
		if keep {
			r.pool.Put(s)
		} else {
			s.L.Close()
			r.pool.Drop()
		}
	}()
	fn := s.callbacks[key]
	if fn == nil {
		return fmt.Errorf("lua: %s is not registered in this Lua state", key)
	}
	argv, err := args(s)
	if err != nil {
		return err
	}
	L := s.L
	s.log, s.goErr = log, nil
	defer func() { s.log, s.goErr = r.log, nil }()
	L.Push(fn)
	L.Push(contextTable(L, ctx))
	for _, a := range argv {
		L.Push(a)
	}
	L.SetContext(ctx)
	err = L.PCall(len(argv)+1, 1, nil)
	L.RemoveContext()
	if err != nil {
		var ae *glua.ApiError
		if ctx.Err() != nil || errors.As(err, &ae) && ae.Type == glua.ApiErrorPanic {
			keep = false // a runaway state may hold what it built; a panicked one is suspect
		}
		if ctx.Err() != nil {
			log.Error("Lua call stopped at its deadline: %s", key)
			return ctx.Err() // the host answers the overrun
		}
		return s.callError(err)
	}
	ret := L.Get(-1)
	L.Pop(1)
	if read == nil {
		return nil
	}
	return read(ret)
}

// callError turns a failed call's error into what the host answers. Nakama's error({message, code}) is a
// runtime.Error with that code (Internal when it is not one); a server function's error passed on is the
// Go error; anything else is a plain error carrying the message and the Lua traceback, which the host logs
// and answers as a generic internal error.
func (s *state) callError(err error) error {
	var ae *glua.ApiError
	if !errors.As(err, &ae) {
		return err
	}
	switch obj := ae.Object.(type) {
	case *glua.LTable:
		msg := glua.LVAsString(obj.RawGetInt(1))
		if obj.Len() < 2 {
			return errors.New(msg + "\n" + ae.StackTrace)
		}
		code := codeInternal
		if n, ok := obj.RawGetInt(2).(glua.LNumber); ok {
			code = int(n)
		}
		if code <= 0 || code >= 17 {
			code = codeInternal
		}
		return &runtime.Error{Message: msg, Code: code}
	case glua.LString:
		if s.goErr != nil && strings.HasSuffix(string(obj), s.goErr.Error()) {
			return s.goErr
		}
	}
	return errors.New(ae.Error())
}

// codeInternal is gRPC's Internal, the code of an error({message, code}) whose code is not a gRPC code.
const codeInternal = 13

// contextTable is Nakama's Lua context: env, execution_mode, node, headers and query_params always; the
// caller's user_id, username, vars, user_session_exp, session_id and lang when there is one; client_ip and
// client_port when known. Every value is a fresh copy.
func contextTable(L *glua.LState, ctx context.Context) *glua.LTable {
	t := L.CreateTable(0, 13)
	str := func(key string) string { v, _ := ctx.Value(key).(string); return v }
	env, _ := ctx.Value(runtime.RUNTIME_CTX_ENV).(map[string]string)
	t.RawSetString("env", stringMap(L, env))
	t.RawSetString("execution_mode", glua.LString(str(runtime.RUNTIME_CTX_MODE)))
	t.RawSetString("node", glua.LString(str(runtime.RUNTIME_CTX_NODE)))
	headers, _ := ctx.Value(runtime.RUNTIME_CTX_HEADERS).(map[string][]string)
	t.RawSetString("headers", stringsMap(L, headers))
	query, _ := ctx.Value(runtime.RUNTIME_CTX_QUERY_PARAMS).(map[string][]string)
	t.RawSetString("query_params", stringsMap(L, query))
	if uid := str(runtime.RUNTIME_CTX_USER_ID); uid != "" {
		t.RawSetString("user_id", glua.LString(uid))
		t.RawSetString("username", glua.LString(str(runtime.RUNTIME_CTX_USERNAME)))
		vars, _ := ctx.Value(runtime.RUNTIME_CTX_VARS).(map[string]string)
		t.RawSetString("vars", stringMap(L, vars))
		exp, _ := ctx.Value(runtime.RUNTIME_CTX_USER_SESSION_EXP).(int64)
		t.RawSetString("user_session_exp", glua.LNumber(exp))
		if sid := str(runtime.RUNTIME_CTX_SESSION_ID); sid != "" {
			t.RawSetString("session_id", glua.LString(sid))
			t.RawSetString("lang", glua.LString(str(runtime.RUNTIME_CTX_LANG)))
		}
	}
	if ip := str(runtime.RUNTIME_CTX_CLIENT_IP); ip != "" {
		t.RawSetString("client_ip", glua.LString(ip))
	}
	if port := str(runtime.RUNTIME_CTX_CLIENT_PORT); port != "" {
		t.RawSetString("client_port", glua.LString(port))
	}
	return t
}
