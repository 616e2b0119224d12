package runtimehost

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/heroiclabs/nakama-common/rtapi"

	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/internal/realtime"
	"github.com/latchkeyhq/latchkey/runtime"
)

var _ realtime.Runtime = (*Host)(nil)

// rtHook is the key of a realtime hook in the hook maps, apart from the HTTP hooks' names.
func rtHook(name string) string { return "rt." + strings.ToLower(name) }

// BeforeRt implements realtime.Runtime.
func (h *Host) BeforeRt(ctx context.Context, name string, in *rtapi.Envelope) (*rtapi.Envelope, error) {
	out, err := h.Before(ctx, rtHook(name), in)
	if err != nil || out == nil {
		return nil, err
	}
	return out.(*rtapi.Envelope), nil
}

// AfterRt implements realtime.Runtime. An after-hook's error is logged (by guard), never sent.
func (h *Host) AfterRt(ctx context.Context, name string, out, in *rtapi.Envelope) {
	if err := h.After(ctx, rtHook(name), in, out); err != nil {
		h.log.Debug("realtime after-hook failed", "message", name, "err", err)
	}
}

// RegisterBeforeRt implements runtime.Initializer. A nil result refuses the message.
func (h *Host) RegisterBeforeRt(id string, fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *rtapi.Envelope) (*rtapi.Envelope, error)) error {
	if id == "" || fn == nil {
		return errors.New("RegisterBeforeRt: id and function are required")
	}
	name := rtHook(id)
	return h.setBefore(name, func(ctx context.Context, req any) (any, error) {
		out, err := fn(ctx, h.logger("before "+name), h.d.DB, h.nk, req.(*rtapi.Envelope))
		if err != nil || out == nil {
			return nil, err
		}
		return out, nil
	})
}

// RegisterAfterRt implements runtime.Initializer.
func (h *Host) RegisterAfterRt(id string, fn func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, *rtapi.Envelope, *rtapi.Envelope) error) error {
	if id == "" || fn == nil {
		return errors.New("RegisterAfterRt: id and function are required")
	}
	name := rtHook(id)
	return h.setAfter(name, func(ctx context.Context, req, resp any) error {
		out, _ := resp.(*rtapi.Envelope)
		return fn(ctx, h.logger("after "+name), h.d.DB, h.nk, out, req.(*rtapi.Envelope))
	})
}

// Session events run on one background worker, in order, each under the call deadline. The queue is
// bounded: when server code is slower than sockets come and go, events are dropped and counted in the log
// rather than holding sockets or memory.
const eventQueueSize = 4096

type sessionEvent struct {
	ctx    context.Context
	name   string
	reason string
}

// RegisterEventSessionStart implements runtime.Initializer.
func (h *Host) RegisterEventSessionStart(fn func(context.Context, runtime.Logger, *api.Event)) error {
	return h.registerEvent("session_start", fn)
}

// RegisterEventSessionEnd implements runtime.Initializer.
func (h *Host) RegisterEventSessionEnd(fn func(context.Context, runtime.Logger, *api.Event)) error {
	return h.registerEvent("session_end", fn)
}

func (h *Host) registerEvent(name string, fn func(context.Context, runtime.Logger, *api.Event)) error {
	if fn == nil {
		return errors.New("event function is nil")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.claim("event " + name)
	h.events[name] = fn
	if h.eventq == nil {
		h.eventq = make(chan sessionEvent, eventQueueSize)
		go h.runEvents(h.eventq)
	}
	return nil
}

// SessionStart implements realtime.Runtime.
func (h *Host) SessionStart(ctx context.Context) { h.queueEvent(ctx, "session_start", "") }

// SessionEnd implements realtime.Runtime.
func (h *Host) SessionEnd(ctx context.Context, reason string) {
	h.queueEvent(ctx, "session_end", reason)
}

func (h *Host) queueEvent(ctx context.Context, name, reason string) {
	h.mu.RLock()
	fn, q := h.events[name], h.eventq
	h.mu.RUnlock()
	if fn == nil {
		return
	}
	select {
	case q <- sessionEvent{ctx: context.WithoutCancel(ctx), name: name, reason: reason}:
	default:
		h.log.Warn("session event dropped: server code is behind", "event", name)
	}
}

func (h *Host) runEvents(q <-chan sessionEvent) {
	for ev := range q {
		h.mu.RLock()
		fn := h.events[ev.name]
		h.mu.RUnlock()
		evt := &api.Event{Name: ev.name, Properties: map[string]string{}, Timestamp: time.Now().UTC()}
		if ev.reason != "" {
			evt.Properties["reason"] = ev.reason
		}
		h.guard(ev.ctx, "event "+ev.name, func(ctx context.Context) error {
			fn(h.runtimeCtx(ctx, "event"), h.logger("event "+ev.name), evt)
			return nil
		})
	}
}

// Close stops the session event worker; events queued after it are dropped.
func (h *Host) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.eventq != nil {
		close(h.eventq)
		h.eventq = nil
		h.events = map[string]func(context.Context, runtime.Logger, *api.Event){}
	}
}
