// Command latchkey-testserver is the latchkey server with a test module compiled in: RPCs, realtime hooks
// and session events that the compatibility suite (compat/) and the multi-node tests drive through the
// official clients. It takes the same flags and subcommands as latchkey. It is not for production.
//
// RPCs (ids are case-insensitive):
//
//	ctx         the runtime context values of the call, as JSON
//	echo        the payload unchanged
//	rewrite     the payload unchanged (a before-hook on socket rpc rewrites it first)
//	blocked     never runs over the socket: the before-hook refuses it
//	fail        runtime.NewError("custom failure", 9)
//	panic       panics
//	disconnect  {"session_id"} (default: the caller's socket) → SessionDisconnect
//	sockets     {"user_id"} (default: the caller) → {"sockets": SocketsList, "stream": StreamUserList}
//	ban         {"user_id"} (default: the caller) → UsersBanId
//	events      {"events": [...]}: this node's session_start/session_end events and after-rpc hook calls
//	mint_ticket {"audience", "ttl_sec"} → {"ticket", "id", "expires_at"}: TicketMint for the caller's session
package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"

	"github.com/heroiclabs/nakama-common/rtapi"

	"github.com/latchkeyhq/latchkey"
	"github.com/latchkeyhq/latchkey/api"
	"github.com/latchkeyhq/latchkey/runtime"
)

func main() { latchkey.Run(InitModule) }

// event is one entry of the events RPC's answer.
type event struct {
	Name      string `json:"name"`
	UserID    string `json:"user_id,omitempty"`
	SessionID string `json:"session_id,omitempty"`
	Reason    string `json:"reason,omitempty"`
	ID        string `json:"id,omitempty"`
}

// maxEvents bounds the recorded events; the oldest go first.
const maxEvents = 10000

type recorder struct {
	mu     sync.Mutex
	events []event
}

func (r *recorder) add(e event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) >= maxEvents {
		r.events = r.events[1:]
	}
	r.events = append(r.events, e)
}

func (r *recorder) list() []event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]event(nil), r.events...)
}

func str(ctx context.Context, key string) string {
	v, _ := ctx.Value(key).(string)
	return v
}

// target reads {"<key>": "..."} from the payload, defaulting to def.
func target(payload, key, def string) (string, error) {
	if payload == "" {
		return def, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(payload), &m); err != nil {
		return "", runtime.NewError("payload must be a JSON object of strings", 3)
	}
	if v := m[key]; v != "" {
		return v, nil
	}
	return def, nil
}

func marshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// InitModule registers the test module.
func InitModule(ctx context.Context, logger runtime.Logger, db *sql.DB, nk runtime.NakamaModule, init runtime.Initializer) error {
	rec := &recorder{}
	rpcs := map[string]runtime.RpcFunc{
		"ctx": func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, _ string) (string, error) {
			vars, _ := ctx.Value(runtime.RUNTIME_CTX_VARS).(map[string]string)
			exp, _ := ctx.Value(runtime.RUNTIME_CTX_USER_SESSION_EXP).(int64)
			return marshal(map[string]any{
				"user_id": str(ctx, runtime.RUNTIME_CTX_USER_ID), "username": str(ctx, runtime.RUNTIME_CTX_USERNAME),
				"vars": vars, "session_id": str(ctx, runtime.RUNTIME_CTX_SESSION_ID), "user_session_exp": exp,
				"lang": str(ctx, runtime.RUNTIME_CTX_LANG), "execution_mode": str(ctx, runtime.RUNTIME_CTX_MODE),
				"node": str(ctx, runtime.RUNTIME_CTX_NODE), "client_ip": str(ctx, runtime.RUNTIME_CTX_CLIENT_IP),
			})
		},
		"echo":    echo,
		"rewrite": echo,
		"blocked": echo,
		"fail": func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
			return "", runtime.NewError("custom failure", 9)
		},
		"panic": func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
			panic("test module panic")
		},
		"disconnect": func(ctx context.Context, _ runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
			id, err := target(payload, "session_id", str(ctx, runtime.RUNTIME_CTX_SESSION_ID))
			if err != nil {
				return "", err
			}
			if err := nk.SessionDisconnect(ctx, id, runtime.PresenceReasonDisconnect); err != nil {
				return "", err
			}
			return "{}", nil
		},
		"sockets": func(ctx context.Context, _ runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
			uid, err := target(payload, "user_id", str(ctx, runtime.RUNTIME_CTX_USER_ID))
			if err != nil {
				return "", err
			}
			socks, err := nk.SocketsList(ctx, uid)
			if err != nil {
				return "", err
			}
			stream, err := nk.StreamUserList(runtime.StreamModeNotifications, uid, "", "", true, true)
			if err != nil {
				return "", err
			}
			type sock struct {
				SessionID string `json:"session_id"`
				UserID    string `json:"user_id"`
				Username  string `json:"username,omitempty"`
				Node      string `json:"node"`
			}
			out := struct {
				Sockets []sock `json:"sockets"`
				Stream  []sock `json:"stream"`
			}{Sockets: []sock{}, Stream: []sock{}}
			for _, s := range socks {
				out.Sockets = append(out.Sockets, sock{SessionID: s.SessionID, UserID: s.UserID, Node: s.Node})
			}
			for _, p := range stream {
				out.Stream = append(out.Stream, sock{SessionID: p.GetSessionId(), UserID: p.GetUserId(), Username: p.GetUsername(), Node: p.GetNodeId()})
			}
			return marshal(out)
		},
		"ban": func(ctx context.Context, _ runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
			uid, err := target(payload, "user_id", str(ctx, runtime.RUNTIME_CTX_USER_ID))
			if err != nil {
				return "", err
			}
			if err := nk.UsersBanId(ctx, []string{uid}); err != nil {
				return "", err
			}
			return "{}", nil
		},
		"events": func(context.Context, runtime.Logger, *sql.DB, runtime.NakamaModule, string) (string, error) {
			return marshal(map[string]any{"events": rec.list()})
		},
		"mint_ticket": mintTicket,
	}
	for id, fn := range rpcs {
		if err := init.RegisterRpc(id, fn); err != nil {
			return err
		}
	}
	if err := init.RegisterBeforeRt("rpc", func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, in *rtapi.Envelope) (*rtapi.Envelope, error) {
		switch in.GetRpc().GetId() {
		case "blocked":
			return nil, nil
		case "rewrite":
			in.GetRpc().Payload = "rewritten:" + in.GetRpc().GetPayload()
		}
		return in, nil
	}); err != nil {
		return err
	}
	if err := init.RegisterAfterRt("rpc", func(ctx context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, out, in *rtapi.Envelope) error {
		rec.add(event{Name: "after_rpc", ID: in.GetRpc().GetId(), UserID: str(ctx, runtime.RUNTIME_CTX_USER_ID), SessionID: str(ctx, runtime.RUNTIME_CTX_SESSION_ID)})
		return nil
	}); err != nil {
		return err
	}
	onEvent := func(ctx context.Context, _ runtime.Logger, evt *api.Event) {
		rec.add(event{Name: evt.Name, UserID: str(ctx, runtime.RUNTIME_CTX_USER_ID), SessionID: str(ctx, runtime.RUNTIME_CTX_SESSION_ID), Reason: evt.Properties["reason"]})
	}
	return errors.Join(init.RegisterEventSessionStart(onEvent), init.RegisterEventSessionEnd(onEvent))
}

func echo(_ context.Context, _ runtime.Logger, _ *sql.DB, _ runtime.NakamaModule, payload string) (string, error) {
	return payload, nil
}

// mintTicket mints a join ticket for the calling session, as a game's RPC would instead of letting clients
// call POST /v2/session/ticket themselves.
func mintTicket(ctx context.Context, _ runtime.Logger, _ *sql.DB, nk runtime.NakamaModule, payload string) (string, error) {
	var in struct {
		Audience string `json:"audience"`
		TTLSec   int    `json:"ttl_sec"`
	}
	if err := json.Unmarshal([]byte(payload), &in); err != nil {
		return "", runtime.NewError("payload must be {\"audience\": string, \"ttl_sec\": number}", 3)
	}
	tk, err := nk.TicketMint(ctx, str(ctx, runtime.RUNTIME_CTX_USER_ID), str(ctx, runtime.RUNTIME_CTX_SESSION_ID), in.Audience, in.TTLSec, nil)
	switch {
	case errors.Is(err, runtime.ErrTicketAudience), errors.Is(err, runtime.ErrTicketTTL):
		return "", runtime.NewError(err.Error(), 3)
	case errors.Is(err, runtime.ErrSessionNotFound):
		return "", runtime.NewError(err.Error(), 16)
	case err != nil:
		return "", err
	}
	return marshal(map[string]any{"ticket": tk.Token, "id": tk.ID, "expires_at": tk.ExpiresAt})
}
