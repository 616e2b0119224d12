package js

import (
	"context"
	"sync"
)

// pool holds idle VMs. It makes new ones on demand up to max; beyond that a caller waits for one to come back
// until its context ends. A VM is in the pool only while no call runs on it.
type pool struct {
	newVM func(context.Context) (*vm, error)
	max   int
	// idle holds idle VMs and, as nil, free places: a VM dropped after a Go panic leaves its place to whoever
	// takes the nil, so that a waiting caller makes a new VM rather than wait for one that will not come.
	idle chan *vm

	mu    sync.Mutex
	count int // places taken: VMs idle or busy, and nils in idle
}

func newPool(max int, newVM func(context.Context) (*vm, error)) *pool {
	return &pool{idle: make(chan *vm, max), newVM: newVM, max: max}
}

// add puts a VM made at load in the pool.
func (p *pool) add(v *vm) {
	p.mu.Lock()
	p.count++
	p.mu.Unlock()
	p.idle <- v
}

func (p *pool) get(ctx context.Context) (*vm, error) {
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
		return nil, ctx.Err()
	}
}

// take returns v, or a new VM in v's place when v is nil; a VM that cannot be made leaves the place free.
func (p *pool) take(ctx context.Context, v *vm) (*vm, error) {
	if v != nil {
		return v, nil
	}
	v, err := p.newVM(ctx)
	if err != nil {
		p.idle <- nil
		return nil, err
	}
	return v, nil
}

// put returns a VM whose call has finished. It never blocks: the channel has room for every place.
func (p *pool) put(v *vm) { p.idle <- v }

// discard drops a busy VM, freeing its place.
func (p *pool) discard() { p.idle <- nil }
