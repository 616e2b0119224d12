package limits

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// ErrBusy is Admission's refusal: every slot is taken and the caller could not wait for one, because the
// queue was full or the wait ran out.
var ErrBusy = errors.New("busy: no slot free in time")

// AdmissionConfig configures an Admission.
type AdmissionConfig struct {
	Slots    int           // work running at once; at least 1
	MaxQueue int           // callers waiting at once; 0 lets none wait
	MaxWait  time.Duration // how long a caller waits at most
}

// Admission hands out a fixed number of slots for costly work (bcrypt), with a bounded queue and a
// bounded wait, so that a burst is refused at once instead of holding connections until they time out.
//
// It is fair between clients, by key (a client address), so that one client's burst delays another
// client's request by about one unit of work rather than the whole queue: a freed slot goes to the
// longest-waiting client that holds no slot (the releasing client counts as holding one), else to the
// longest-waiting client, and a client that still has waiters after being served goes to the back. When
// the queue is full, a newcomer takes the place of the newest waiter of the client with the most waiters,
// if that client has at least two more than the newcomer. It is safe for concurrent use.
type Admission struct {
	cfg AdmissionConfig

	mu      sync.Mutex
	queued  int
	running int
	holding map[string]int       // slots held, by client
	waiting map[string][]*waiter // waiters by client, oldest first
	order   []string             // clients with waiters, the next to serve first
}

type waiter struct {
	ready   chan struct{} // closed under mu when the waiter is granted or dropped
	granted bool
}

// NewAdmission returns an Admission.
func NewAdmission(c AdmissionConfig) *Admission {
	c.Slots = max(1, c.Slots)
	c.MaxQueue = max(0, c.MaxQueue)
	return &Admission{cfg: c, holding: make(map[string]int), waiting: make(map[string][]*waiter)}
}

// Acquire takes a slot for the client key, waiting in the queue if it must, and returns the function that
// gives it back. It returns ErrBusy when the queue is full or MaxWait passes, and ctx's error when ctx ends
// first.
func (a *Admission) Acquire(ctx context.Context, key string) (release func(), err error) {
	release = func() { a.release(key) }
	a.mu.Lock()
	if a.running < a.cfg.Slots && a.queued == 0 {
		a.running++
		a.holding[key]++
		a.mu.Unlock()
		return release, nil
	}
	if a.queued >= a.cfg.MaxQueue && !a.dropFor(key) {
		a.mu.Unlock()
		return nil, ErrBusy
	}
	w := &waiter{ready: make(chan struct{})}
	if len(a.waiting[key]) == 0 {
		a.order = append(a.order, key)
	}
	a.waiting[key] = append(a.waiting[key], w)
	a.queued++
	a.mu.Unlock()

	t := time.NewTimer(a.cfg.MaxWait)
	defer t.Stop()
	select {
	case <-w.ready:
		if w.granted {
			return release, nil
		}
		return nil, ErrBusy // dropped for a newcomer
	case <-t.C:
		err = ErrBusy
	case <-ctx.Done():
		err = ctx.Err()
	}
	a.mu.Lock()
	select {
	case <-w.ready: // granted or dropped while giving up
		a.mu.Unlock()
		switch {
		case !w.granted:
			return nil, ErrBusy
		case err == ErrBusy:
			return release, nil // the slot came just in time
		}
		release()
		return nil, err
	default:
	}
	a.remove(key, w)
	a.mu.Unlock()
	return nil, err
}

// release gives back key's slot, handing it to the next waiter if there is one.
func (a *Admission) release(key string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.order) == 0 {
		a.running--
		a.unhold(key)
		return
	}
	i := slices.IndexFunc(a.order, func(k string) bool { return k != key && a.holding[k] == 0 })
	if i < 0 {
		i = 0
	}
	next := a.order[i]
	a.order = slices.Delete(a.order, i, i+1)
	ws := a.waiting[next]
	w := ws[0]
	if len(ws) == 1 {
		delete(a.waiting, next)
	} else {
		a.waiting[next] = ws[1:]
		a.order = append(a.order, next)
	}
	a.queued--
	a.unhold(key)
	a.holding[next]++
	w.granted = true
	close(w.ready) // the slot passes to w; running is unchanged
}

func (a *Admission) unhold(key string) {
	if a.holding[key] <= 1 {
		delete(a.holding, key)
	} else {
		a.holding[key]--
	}
}

// dropFor makes room in the full queue for a newcomer of key: it drops the newest waiter of the client
// with the most waiters, if that client has at least two more than key has. It reports whether it did.
func (a *Admission) dropFor(key string) bool {
	var heavy string
	most := -1
	for _, k := range a.order {
		if n := len(a.waiting[k]); n > most {
			heavy, most = k, n
		}
	}
	if most < len(a.waiting[key])+2 {
		return false
	}
	ws := a.waiting[heavy]
	w := ws[len(ws)-1]
	a.remove(heavy, w)
	close(w.ready) // not granted: dropped
	return true
}

// remove takes a waiter that is neither granted nor dropped out of the queue.
func (a *Admission) remove(key string, w *waiter) {
	ws := slices.DeleteFunc(a.waiting[key], func(x *waiter) bool { return x == w })
	a.queued--
	if len(ws) > 0 {
		a.waiting[key] = ws
		return
	}
	delete(a.waiting, key)
	a.order = slices.DeleteFunc(a.order, func(k string) bool { return k == key })
}

// Running returns how many slots are taken.
func (a *Admission) Running() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.running
}

// Queued returns how many callers are waiting.
func (a *Admission) Queued() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.queued
}

// Slots returns the number of slots.
func (a *Admission) Slots() int { return a.cfg.Slots }
