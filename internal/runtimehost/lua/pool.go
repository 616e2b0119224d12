package lua

import (
	"context"
	"sync"
)

// pool holds the Lua states. A state runs one call at a time and goes back to the pool only once its call
// has returned. Up to max states exist; a call that finds none idle and none to make waits for one until
// its context ends.
type pool struct {
	newState func() (*state, error)
	max      int
	// idle holds idle states and, as nil, free places: a state dropped after a failed call leaves its place
	// to whoever takes the nil, so that a waiting call makes a new state rather than wait for nothing.
	idle chan *state

	mu    sync.Mutex
	count int // states made or being made, places held by nils in idle included
}

func newPool(max int, newState func() (*state, error)) *pool {
	return &pool{newState: newState, max: max, idle: make(chan *state, max)}
}

// add makes a state in a new place, for the pool's start.
func (p *pool) add() (*state, error) {
	p.mu.Lock()
	p.count++
	p.mu.Unlock()
	return p.make()
}

// get takes an idle state, makes one if the pool may grow, or waits.
func (p *pool) get(ctx context.Context) (*state, error) {
	select {
	case s := <-p.idle:
		return p.take(s)
	default:
	}
	p.mu.Lock()
	grow := p.count < p.max
	if grow {
		p.count++
	}
	p.mu.Unlock()
	if grow {
		return p.make()
	}
	select {
	case s := <-p.idle:
		return p.take(s)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// take returns s, or a new state when s is a free place.
func (p *pool) take(s *state) (*state, error) {
	if s != nil {
		return s, nil
	}
	return p.make()
}

// make makes a state in a place already counted; on failure the place is given up.
func (p *pool) make() (*state, error) {
	s, err := p.newState()
	if err != nil {
		p.mu.Lock()
		p.count--
		p.mu.Unlock()
		return nil, err
	}
	return s, nil
}

// put returns a state whose call has ended. It never blocks: idle has room for every place.
func (p *pool) put(s *state) { p.idle <- s }

// drop closes a state that must not run again (its call overran or panicked) and frees its place.
func (p *pool) drop(s *state) {
	s.L.Close()
	p.idle <- nil
}
