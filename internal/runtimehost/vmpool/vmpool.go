// Package vmpool provides the bounded pool of interpreter instances (JavaScript VMs, Lua states) that the
// scripting runtimes run calls on: one call per instance at a time, more instances made on demand up to a
// maximum, and callers beyond it waiting within their deadline.
package vmpool

import (
	"context"
	"sync"
)

// Pool holds idle instances of T. An instance is in the pool only while no call runs on it.
type Pool[T any] struct {
	newFn func(context.Context) (T, error)
	max   int
	// idle holds idle instances and, as nil, free places: an instance dropped after a failed call leaves its
	// place to whoever takes the nil, so that a waiting caller makes a new one rather than wait for nothing.
	idle chan *T

	mu    sync.Mutex
	count int // places taken: instances idle or busy, and nils in idle
}

// New returns an empty pool of at most max instances, made by newFn.
func New[T any](max int, newFn func(context.Context) (T, error)) *Pool[T] {
	return &Pool[T]{newFn: newFn, max: max, idle: make(chan *T, max)}
}

// Add puts an instance made at load in the pool, taking a place.
func (p *Pool[T]) Add(v T) {
	p.mu.Lock()
	p.count++
	p.mu.Unlock()
	p.idle <- &v
}

// Get takes an idle instance, makes one if the pool may grow, or waits for one until ctx ends.
func (p *Pool[T]) Get(ctx context.Context) (T, error) {
	select {
	case v := <-p.idle:
		return p.take(ctx, v)
	default:
	}
	p.mu.Lock()
	grow := p.count < p.max
	if grow {
		p.count++
	}
	p.mu.Unlock()
	if grow {
		return p.take(ctx, nil)
	}
	select {
	case v := <-p.idle:
		return p.take(ctx, v)
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// take returns v, or a new instance in v's place when v is a free place; an instance that cannot be made
// leaves the place free for the next caller.
func (p *Pool[T]) take(ctx context.Context, v *T) (T, error) {
	if v != nil {
		return *v, nil
	}
	nv, err := p.newFn(ctx)
	if err != nil {
		p.idle <- nil
		return nv, err
	}
	return nv, nil
}

// Put returns an instance whose call has finished. It never blocks: idle has room for every place.
func (p *Pool[T]) Put(v T) { p.idle <- &v }

// Drop frees the place of a busy instance that must not run again (its call overran or panicked); the
// caller closes the instance.
func (p *Pool[T]) Drop() { p.idle <- nil }
