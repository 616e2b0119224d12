package verify

import "sync"

// seenSet is the ids of the tickets this process accepted that have not expired: one-time use within the
// process. Each id is forgotten once its ticket has expired, when Verify refuses the ticket for that
// anyway.
type seenSet struct {
	mu  sync.Mutex
	ids map[[16]byte]struct{}
	exp expiries
	max int
}

func newSeenSet(max int) seenSet {
	return seenSet{ids: map[[16]byte]struct{}{}, max: max}
}

// add records id, whose ticket expires at exp, or returns ErrReplayed if it is recorded already. It
// forgets the ids of tickets expired at now first, and returns ErrBusy rather than exceed max.
func (s *seenSet) add(id [16]byte, exp, now int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.exp) > 0 && s.exp[0].exp <= now {
		delete(s.ids, s.exp.pop().id)
	}
	if _, ok := s.ids[id]; ok {
		return ErrReplayed
	}
	if len(s.ids) >= s.max {
		return ErrBusy
	}
	s.ids[id] = struct{}{}
	s.exp.push(expiry{exp: exp, id: id})
	return nil
}

// expiry is a seen id and when its ticket expires.
type expiry struct {
	exp int64
	id  [16]byte
}

// expiries is a binary min-heap by exp. It is written out rather than built on container/heap, whose
// interface would allocate for every push.
type expiries []expiry

func (h *expiries) push(e expiry) {
	*h = append(*h, e)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p].exp <= a[i].exp {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *expiries) pop() expiry {
	a := *h
	top := a[0]
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && a[l].exp < a[small].exp {
			small = l
		}
		if r := l + 1; r < n && a[r].exp < a[small].exp {
			small = r
		}
		if small == i {
			break
		}
		a[i], a[small] = a[small], a[i]
		i = small
	}
	*h = a
	return top
}
