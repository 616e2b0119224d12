package social

import (
	"context"
	"sync"
	"time"
)

// minRefresh is the least time between two early refreshes of one document, made when a cached copy is
// still fresh but lacks what a credential asks for (a key set without the token's kid, as after a key
// rotation). Forged kids therefore cost the provider at most one request per document per minRefresh,
// however many arrive.
const minRefresh = 30 * time.Second

// cache holds documents fetched from providers, by URL. Concurrent misses for one URL share one fetch, which
// runs to its own timeout even if the caller that started it gives up.
type cache[T any] struct {
	clock func() time.Time
	max   int
	// fetch gets the document at url for provider and says how long it may be kept.
	fetch func(ctx context.Context, provider, url string) (T, time.Duration, error)

	mu      sync.Mutex
	entries map[string]*cacheEntry[T]
	calls   map[string]*cacheCall[T]
}

type cacheEntry[T any] struct {
	val       T
	expires   time.Time
	refreshed time.Time // when the last early refresh of this URL started, successful or not
}

type cacheCall[T any] struct {
	done chan struct{}
	val  T
	err  error
}

func newCache[T any](clock func() time.Time, max int, fetch func(context.Context, string, string) (T, time.Duration, error)) *cache[T] {
	return &cache[T]{
		clock:   clock,
		max:     max,
		fetch:   fetch,
		entries: map[string]*cacheEntry[T]{},
		calls:   map[string]*cacheCall[T]{},
	}
}

// get returns the document at url. A fresh cached copy is used when enough(copy) holds (enough may be nil),
// or when the last early refresh was less than minRefresh ago; otherwise the document is fetched again.
func (c *cache[T]) get(ctx context.Context, provider, url string, enough func(T) bool) (T, error) {
	now := c.clock()
	c.mu.Lock()
	e := c.entries[url]
	fresh := e != nil && now.Before(e.expires)
	if fresh && (enough == nil || enough(e.val) || now.Sub(e.refreshed) < minRefresh) {
		c.mu.Unlock()
		return e.val, nil
	}
	call := c.calls[url]
	if call == nil {
		call = &cacheCall[T]{done: make(chan struct{})}
		c.calls[url] = call
		if fresh {
			e.refreshed = now
		}
		go c.run(context.WithoutCancel(ctx), provider, url, call)
	}
	c.mu.Unlock()
	select {
	case <-call.done:
		return call.val, call.err
	case <-ctx.Done():
		var zero T
		return zero, callerGone(ctx, provider)
	}
}

func (c *cache[T]) run(ctx context.Context, provider, url string, call *cacheCall[T]) {
	val, ttl, err := c.fetch(ctx, provider, url)
	now := c.clock()
	c.mu.Lock()
	delete(c.calls, url)
	if err == nil {
		e := &cacheEntry[T]{val: val, expires: now.Add(ttl)}
		if old := c.entries[url]; old != nil {
			e.refreshed = old.refreshed
		}
		c.storeLocked(url, e)
	}
	c.mu.Unlock()
	call.val, call.err = val, err
	close(call.done)
}

// storeLocked adds an entry, first evicting the one closest to expiry when the cache is full.
func (c *cache[T]) storeLocked(url string, e *cacheEntry[T]) {
	if _, ok := c.entries[url]; !ok && len(c.entries) >= c.max {
		var victim string
		for u, old := range c.entries {
			if victim == "" || old.expires.Before(c.entries[victim].expires) {
				victim = u
			}
		}
		delete(c.entries, victim)
	}
	c.entries[url] = e
}

// len reports the number of cached documents.
func (c *cache[T]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
