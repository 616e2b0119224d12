// Package js runs Nakama JavaScript server modules (and TypeScript compiled to one JavaScript file) unchanged,
// on goja: the file's global InitModule(ctx, logger, nk, initializer) registers RPCs and hooks, and each one
// becomes a Go function registered on the host's runtime.Initializer, run on a pool of JavaScript VMs.
package js

import (
	"github.com/latchkeyhq/latchkey/internal/runtimehost/vmpool"

	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/dop251/goja"
	"github.com/dop251/goja/parser"

	"github.com/latchkeyhq/latchkey/runtime"
)

// Config says where the module is and how many VMs may run it at once.
type Config struct {
	Path       string // module directory (runtime.path)
	Entrypoint string // file relative to Path (runtime.js_entrypoint)
	// MinCount VMs are made at load, more on demand up to MaxCount; beyond that a call waits for a free VM
	// until its context ends.
	MinCount, MaxCount int
}

// Module returns a runtime.InitModule that loads the entrypoint into a pool of VMs, runs the file's global
// InitModule(ctx, logger, nk, initializer) once, and registers what it registers on the Go initializer.
func Module(cfg Config) runtime.InitModule {
	return func(ctx context.Context, logger runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, init runtime.Initializer) error {
		m, err := load(ctx, cfg, logger, nk)
		if err != nil {
			return err
		}
		return m.bind(init)
	}
}

// module is one loaded JavaScript module: its compiled program, its VM pool and what its InitModule
// registered, in order.
type module struct {
	name string // the entrypoint as given, for messages and stack traces
	prg  *goja.Program
	pool *vmpool.Pool[*vm]
	regs []registration // as the first VM's InitModule made them

	// The load's context (values only), logger and server functions, for the InitModule run of each VM made
	// after load.
	initCtx context.Context
	initLog runtime.Logger
	initNK  runtime.NakamaModule
}

func load(ctx context.Context, cfg Config, logger runtime.Logger, nk runtime.NakamaModule) (*module, error) {
	if cfg.Entrypoint == "" {
		return nil, errors.New("javascript: no entrypoint (runtime.js_entrypoint) given")
	}
	src, err := os.ReadFile(filepath.Join(cfg.Path, cfg.Entrypoint))
	if err != nil {
		return nil, fmt.Errorf("javascript: %w", err)
	}
	// A TypeScript build's source map, named by the file's sourceMappingURL, is read beside it, so that
	// stack traces name the TypeScript source.
	tree, err := parser.ParseFile(nil, cfg.Entrypoint, string(src), 0, parser.WithSourceMapLoader(func(p string) ([]byte, error) {
		return os.ReadFile(filepath.Join(cfg.Path, filepath.FromSlash(p)))
	}))
	if err != nil {
		return nil, fmt.Errorf("javascript: %s", syntaxError(err))
	}
	prg, err := goja.CompileAST(tree, false)
	if err != nil {
		return nil, fmt.Errorf("javascript: %w", err)
	}
	minCount, maxCount := max(cfg.MinCount, 1), cfg.MaxCount
	maxCount = max(maxCount, minCount)
	m := &module{
		name: cfg.Entrypoint, prg: prg,
		initCtx: context.WithoutCancel(ctx), initLog: logger, initNK: nk,
	}
	m.pool = vmpool.New(maxCount, m.newVM)
	first, err := m.newVM(ctx)
	if err != nil {
		return nil, err
	}
	m.pool.Add(first)
	for range minCount - 1 {
		v, err := m.newVM(ctx)
		if err != nil {
			return nil, err
		}
		m.pool.Add(v)
	}
	return m, nil
}

// newVM makes a VM that has run the program and InitModule. The first one's registrations are the module's;
// every later one must register the same functions in the same order, and binds its own function values to
// them. ctx only bounds the run: the VM sees the load's context values.
func (m *module) newVM(ctx context.Context) (*vm, error) {
	v := newVM(m)
	stop := v.watch(ctx)
	defer stop()
	if _, err := v.rt.RunProgram(m.prg); err != nil {
		return nil, fmt.Errorf("javascript: %s", describe(err, m.name))
	}
	initFn, ok := goja.AssertFunction(v.rt.Get("InitModule"))
	if !ok {
		return nil, fmt.Errorf("javascript: %s: no global InitModule function", m.name)
	}
	v.ctx, v.nk = m.initCtx, m.initNK
	init := v.initializer()
	_, err := initFn(goja.Undefined(), v.ctxObject(m.initCtx), v.logger(m.initLog), v.nkObj, init)
	v.ctx, v.nk = nil, nil
	if err != nil {
		return nil, fmt.Errorf("javascript: InitModule: %s", describe(err, m.name))
	}
	if m.regs == nil {
		m.regs = v.regs
		if m.regs == nil {
			m.regs = []registration{}
		}
	} else if err := sameRegistrations(m.regs, v.regs); err != nil {
		return nil, fmt.Errorf("javascript: %s: InitModule: %w", m.name, err)
	}
	v.fns = make([]goja.Callable, len(v.regs))
	for i, r := range v.regs {
		v.fns[i] = r.fn
	}
	v.regs = nil
	return v, nil
}

func sameRegistrations(want, got []registration) error {
	if len(got) != len(want) {
		return fmt.Errorf("registered %d functions in another VM, %d in this one: registrations must not depend on state", len(want), len(got))
	}
	for i := range want {
		if want[i].method != got[i].method || want[i].id != got[i].id {
			return fmt.Errorf("registration %d is %s(%q) in another VM, %s(%q) in this one: registrations must not depend on state",
				i+1, want[i].method, want[i].id, got[i].method, got[i].id)
		}
	}
	return nil
}

// bind registers on the Go initializer, for each JavaScript registration, a Go function that runs it.
func (m *module) bind(init runtime.Initializer) error {
	for i, r := range m.regs {
		if err := r.bindTo(m, init, i); err != nil {
			return fmt.Errorf("javascript: %s: %s: %w", m.name, r.method, err)
		}
	}
	return nil
}

// invoke runs the registration idx on a VM from the pool: args gives the arguments after (ctx, logger, nk)
// and use reads the result, both while the VM is held. The VM is interrupted when ctx ends and goes back to
// the pool only once the call has returned.
func (m *module) invoke(ctx context.Context, logger runtime.Logger, nk runtime.NakamaModule, idx int,
	args func(v *vm) ([]goja.Value, error), use func(v *vm, ret goja.Value) error) error {
	v, err := m.pool.Get(ctx)
	if err != nil {
		return err
	}
	healthy := false
	defer func() {
		if healthy {
			m.pool.Put(v)
		} else {
			m.pool.Drop() // a Go panic went through the VM: its state is unknown
		}
	}()
	err = v.call(ctx, logger, nk, idx, args, use)
	healthy = true
	return err
}

// syntaxError says where the first syntax error is, as file:line:column.
func syntaxError(err error) string {
	var list parser.ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		return err.Error()
	}
	p := list[0].Position
	msg := fmt.Sprintf("%s:%d:%d: SyntaxError: %s", p.Filename, p.Line, p.Column, list[0].Message)
	if len(list) > 1 {
		msg += fmt.Sprintf(" (and %d more errors)", len(list)-1)
	}
	return msg
}
