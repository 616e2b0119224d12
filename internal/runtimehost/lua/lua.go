// Package lua runs Nakama's Lua server modules unchanged on gopher-lua: it loads every *.lua file of the
// runtime path into a pool of Lua states and registers what the modules register (RPCs and before/after
// hooks) on the Go runtime's Initializer, so that they run like Go modules, under the same deadline.
package lua

import (
	"github.com/latchkeyhq/latchkey/internal/runtimehost/vmpool"

	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	glua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"

	"github.com/latchkeyhq/latchkey/runtime"
)

// Config says where the modules are and how many Lua states run them.
type Config struct {
	Path               string // module directory (runtime.path): every *.lua file in it (and subdirectories) is a module
	MinCount, MaxCount int    // pool of Lua states
}

// module is one compiled *.lua file. Its name is what `require` takes: the path relative to Config.Path
// without ".lua", with dots for directories, as in Nakama.
type module struct {
	name  string
	proto *glua.FunctionProto
}

// luaRuntime holds the compiled modules and the pool of states that run them.
type luaRuntime struct {
	mods []module
	nk   runtime.NakamaModule
	log  runtime.Logger
	pool *vmpool.Pool[*state]
}

// Module returns a runtime.InitModule that loads every module into a pool of states and registers what
// they register (nk.register_rpc, nk.register_req_before/after, nk.register_rt_before/after) on the Go
// initializer. With no *.lua file it registers nothing.
func Module(cfg Config) runtime.InitModule {
	return func(ctx context.Context, logger runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, init runtime.Initializer) error {
		mods, err := compileModules(cfg.Path)
		if err != nil || len(mods) == 0 {
			return err
		}
		minCount, maxCount := max(cfg.MinCount, 1), cfg.MaxCount
		maxCount = max(maxCount, minCount)
		r := &luaRuntime{mods: mods, nk: nk, log: logger}
		r.pool = vmpool.New(maxCount, func(context.Context) (*state, error) { return r.newState() })
		// The first state's registrations are the ones bound on the Go side; every state registers the same
		// functions again when it loads the modules, each as its own Lua function.
		first, err := r.newState()
		if err != nil {
			return err
		}
		if err := r.bind(init, first.order); err != nil {
			return err
		}
		r.pool.Add(first)
		for range minCount - 1 {
			s, err := r.newState()
			if err != nil {
				return err
			}
			r.pool.Add(s)
		}
		logger.Info("Lua modules loaded: %d modules, %d registrations, %d states", len(mods), len(first.order), minCount)
		return nil
	}
}

// compileModules reads and compiles every *.lua file under dir, in the order of their module names. A
// missing directory has no modules.
func compileModules(dir string) ([]module, error) {
	if dir == "" {
		return nil, nil
	}
	var mods []module
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if path == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() || !strings.EqualFold(filepath.Ext(path), ".lua") {
			return nil
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("lua: %w", err)
		}
		source := filepath.ToSlash(rel)
		proto, err := compile(src, source)
		if err != nil {
			return err
		}
		name := strings.ReplaceAll(strings.TrimSuffix(source, filepath.Ext(source)), "/", ".")
		mods = append(mods, module{name: name, proto: proto})
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(mods, func(a, b module) int { return strings.Compare(a.name, b.name) })
	return mods, nil
}

// compile parses and compiles one file once; every state makes its functions from the same prototype.
// Errors name the file and line.
func compile(src []byte, source string) (*glua.FunctionProto, error) {
	chunk, err := parse.Parse(bytes.NewReader(src), source)
	if err != nil {
		var pe *parse.Error
		if errors.As(err, &pe) {
			if pe.Pos.Line == parse.EOF {
				return nil, fmt.Errorf("lua: %s: at end of file: %s", source, pe.Message)
			}
			return nil, fmt.Errorf("lua: %s:%d: %s near '%s'", source, pe.Pos.Line, pe.Message, pe.Token)
		}
		return nil, fmt.Errorf("lua: %s: %w", source, err)
	}
	proto, err := glua.Compile(chunk, source)
	if err != nil {
		var ce *glua.CompileError
		if errors.As(err, &ce) {
			return nil, fmt.Errorf("lua: %s:%d: %s", source, ce.Line, ce.Message)
		}
		return nil, fmt.Errorf("lua: %s: %w", source, err)
	}
	return proto, nil
}

// bind registers a Go function on init for each registration the modules made.
func (r *luaRuntime) bind(init runtime.Initializer, regs []registration) error {
	for _, reg := range regs {
		var err error
		switch reg.kind {
		case kindRPC:
			err = init.RegisterRpc(reg.id, r.rpc(reg.key))
		case kindBefore:
			err = reqHooks[strings.ToLower(reg.id)].before(init, r, reg.key)
		case kindAfter:
			err = reqHooks[strings.ToLower(reg.id)].after(init, r, reg.key)
		case kindRtBefore:
			err = init.RegisterBeforeRt(reg.id, r.beforeRt(reg.key))
		case kindRtAfter:
			err = init.RegisterAfterRt(reg.id, r.afterRt(reg.key))
		}
		if err != nil {
			return fmt.Errorf("lua: registering %s %q: %w", reg.kind, reg.id, err)
		}
	}
	return nil
}
