package sessions

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/latchkeyhq/latchkey/internal/storage"
)

func TestEventSampler(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	const a, b = "user-a", "user-b"
	s := newEventSampler(3, 10)
	ev := func(user string, kind storage.EventKind, at time.Duration) storage.Event {
		return storage.Event{Time: base.Add(at), Kind: kind, UserID: user, ClientIP: "192.0.2.7"}
	}
	admitted := 0
	for i := range 10 {
		ok, due := s.admit(ev(a, storage.EventSessionRefreshed, time.Duration(i)*time.Minute))
		if ok {
			admitted++
		}
		if len(due) != 0 {
			t.Fatalf("summary due within the hour: %+v", due)
		}
	}
	if admitted != 3 {
		t.Errorf("admitted %d of 10 in one hour, want 3", admitted)
	}
	// Kinds and accounts have allowances of their own.
	if ok, _ := s.admit(ev(a, storage.EventSessionCreated, time.Minute)); !ok {
		t.Error("another kind was refused")
	}
	if ok, _ := s.admit(ev(b, storage.EventSessionRefreshed, time.Minute)); !ok {
		t.Error("another account was refused")
	}
	// The next hour starts a new allowance and brings the last hour's summary.
	ok, due := s.admit(ev(a, storage.EventSessionRefreshed, time.Hour+time.Minute))
	if !ok || len(due) != 1 {
		t.Fatalf("first event of the next hour: admitted %v, due %+v", ok, due)
	}
	sum := due[0]
	if sum.Kind != storage.EventSessionRefreshed || sum.UserID != a || !sum.Time.Equal(base.Add(time.Hour)) ||
		!strings.HasPrefix(sum.Reason, "7 more not recorded") || sum.ClientIP != "192.0.2.7" {
		t.Errorf("summary = %+v", sum)
	}
	// Windows that have ended are swept with their summaries; windows that dropped nothing leave none.
	for range 5 {
		s.admit(ev(b, storage.EventSessionRefreshed, 2*time.Minute))
	}
	swept := s.sweep(base.Add(time.Hour+2*time.Minute), false)
	if len(swept) != 1 || swept[0].UserID != b || !strings.HasPrefix(swept[0].Reason, "3 more") {
		t.Errorf("sweep = %+v; want b's summary of 3", swept)
	}
	if got := len(s.windows); got != 1 {
		t.Errorf("%d windows left after the sweep, want a's current one", got)
	}
}

// TestEventSamplerBounded: the sampler tracks at most its maximum of accounts, writing the summary of
// any it forgets.
func TestEventSamplerBounded(t *testing.T) {
	base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	s := newEventSampler(1, 4)
	dropped, summarised := 0, 0
	for i := range 100 {
		user := string(rune('a' + i%26))
		for range 3 {
			ok, due := s.admit(storage.Event{Time: base, Kind: storage.EventSessionCreated, UserID: user})
			if !ok {
				dropped++
			}
			for _, d := range due {
				var n int
				if _, err := fmt.Sscan(d.Reason, &n); err != nil {
					t.Fatalf("summary reason %q: %v", d.Reason, err)
				}
				summarised += n
			}
		}
		if len(s.windows) > 4 {
			t.Fatalf("tracking %d accounts, bound 4", len(s.windows))
		}
	}
	for _, d := range s.sweep(base, true) {
		var n int
		if _, err := fmt.Sscan(d.Reason, &n); err != nil {
			t.Fatal(err)
		}
		summarised += n
	}
	if summarised != dropped {
		t.Errorf("summaries count %d dropped events, %d were dropped", summarised, dropped)
	}
}
