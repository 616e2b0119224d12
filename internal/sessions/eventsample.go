package sessions

import (
	"fmt"
	"sync"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

// sampleWindow is how long an account's allowance of high-volume events lasts.
const sampleWindow = time.Hour

// defaultMaxSampled bounds the accounts an eventSampler tracks at once.
const defaultMaxSampled = 100_000

// eventSampler bounds the security events the high-volume kinds (session created, session refreshed)
// write per account: at most perWindow of each kind per account per hour on a node. The rest are counted,
// and each hour's count is written as one summary event of the same kind once the hour is over, so that the
// log still says how many there were while its size per account stays bounded. It tracks at most max
// accounts; making room writes the summary of the account it forgets.
type eventSampler struct {
	perWindow int
	max       int

	mu      sync.Mutex
	windows map[sampleKey]*sampled
}

type sampleKey struct {
	user string
	kind storage.EventKind
}

// sampled is one account's current window for one kind.
type sampled struct {
	start    time.Time
	recorded int
	dropped  int
	clientIP string // of the last event dropped
}

func newEventSampler(perWindow, max int) *eventSampler {
	return &eventSampler{perWindow: perWindow, max: max, windows: make(map[sampleKey]*sampled)}
}

// sampledKind reports whether events of kind go through the sampler.
func sampledKind(kind storage.EventKind) bool {
	return kind == storage.EventSessionCreated || kind == storage.EventSessionRefreshed
}

// admit decides whether ev is written. It also returns the summaries that are due: that of ev's account
// and kind when ev starts a new window after one that dropped events, and that of an account forgotten to
// make room.
func (s *eventSampler) admit(ev storage.Event) (bool, []storage.Event) {
	key := sampleKey{ev.UserID, ev.Kind}
	var due []storage.Event
	s.mu.Lock()
	defer s.mu.Unlock()
	w := s.windows[key]
	if w != nil && !ev.Time.Before(w.start.Add(sampleWindow)) {
		due = w.summary(key, due, ev.Time)
		w = nil
	}
	if w == nil {
		if len(s.windows) >= s.max {
			due = s.evict(key, due, ev.Time)
		}
		w = &sampled{start: ev.Time}
		s.windows[key] = w
	}
	if w.recorded < s.perWindow {
		w.recorded++
		return true, due
	}
	w.dropped++
	w.clientIP = ev.ClientIP
	return false, due
}

// evict forgets one tracked window other than key's, appending its summary.
func (s *eventSampler) evict(key sampleKey, due []storage.Event, now time.Time) []storage.Event {
	for k, w := range s.windows { // map order: an arbitrary victim
		if k != key {
			delete(s.windows, k)
			return w.summary(k, due, now)
		}
	}
	return due
}

// sweep forgets the windows over at now (all of them when all is set), returning their summaries.
func (s *eventSampler) sweep(now time.Time, all bool) []storage.Event {
	var due []storage.Event
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, w := range s.windows {
		if all || !now.Before(w.start.Add(sampleWindow)) {
			delete(s.windows, k)
			due = w.summary(k, due, now)
		}
	}
	return due
}

// summary appends the window's summary event, dated at its end or at now if that is earlier, when it
// dropped any.
func (w *sampled) summary(k sampleKey, due []storage.Event, now time.Time) []storage.Event {
	if w.dropped == 0 {
		return due
	}
	at := w.start.Add(sampleWindow)
	if now.Before(at) {
		at = now
	}
	return append(due, storage.Event{
		Time: at, Kind: k.kind, UserID: k.user, ClientIP: w.clientIP,
		Reason: fmt.Sprintf("%d more not recorded in the hour from %s", w.dropped, w.start.UTC().Format(time.RFC3339)),
	})
}
