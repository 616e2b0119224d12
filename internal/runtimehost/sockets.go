package runtimehost

import (
	"context"
	"errors"

	"github.com/latchkeyhq/latchkey/internal/accounts"
	"github.com/latchkeyhq/latchkey/internal/realtime"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/runtime"
)

// errNoRealtime answers the socket server functions of a host built without a hub (tools, tests).
var errNoRealtime = errors.New("the realtime socket is not available here")

func (m *module) SessionDisconnect(ctx context.Context, sessionID string, reason ...runtime.PresenceReason) error {
	if m.h.d.Realtime == nil {
		return errNoRealtime
	}
	text := ""
	if len(reason) > 0 && reason[0] != runtime.PresenceReasonUnknown && reason[0] != runtime.PresenceReasonDisconnect {
		text = "server-side session disconnect: " + reason[0].String()
	}
	return m.h.d.Realtime.Disconnect(ctx, sessionID, text)
}

func (m *module) userSockets(ctx context.Context, userID string) ([]storage.Socket, error) {
	uid, err := canonicalID(userID)
	if err != nil {
		return nil, err
	}
	if m.h.d.Realtime == nil {
		return nil, errNoRealtime
	}
	return m.h.d.Realtime.UserSockets(ctx, uid)
}

func (m *module) SocketsList(ctx context.Context, userID string) ([]*runtime.SocketInfo, error) {
	socks, err := m.userSockets(ctx, userID)
	if err != nil {
		return nil, err
	}
	out := make([]*runtime.SocketInfo, len(socks))
	for i, s := range socks {
		out[i] = &runtime.SocketInfo{SessionID: s.ID, UserID: s.UserID, TokenID: s.SessionID, Node: realtime.NodeName(s.Node), CreateTime: s.CreateTime.Unix()}
	}
	return out, nil
}

// presence is one socket as a presence on the user's notifications stream.
type presence struct {
	userID, sessionID, node, username string
}

func (p presence) GetHidden() bool                   { return false }
func (p presence) GetPersistence() bool              { return false }
func (p presence) GetUsername() string               { return p.username }
func (p presence) GetStatus() string                 { return "" }
func (p presence) GetReason() runtime.PresenceReason { return runtime.PresenceReasonUnknown }
func (p presence) GetUserId() string                 { return p.userID }
func (p presence) GetSessionId() string              { return p.sessionID }
func (p presence) GetNodeId() string                 { return p.node }

func (m *module) StreamUserList(mode uint8, subject, subcontext, label string, includeHidden, includeNotHidden bool) ([]runtime.Presence, error) {
	if mode != runtime.StreamModeNotifications {
		return nil, runtime.ErrStreamModeNotServed
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	socks, err := m.userSockets(ctx, subject)
	if err != nil || len(socks) == 0 || !includeNotHidden {
		return nil, err
	}
	username := ""
	if u, err := m.h.d.Accounts.Account(ctx, socks[0].UserID); err == nil {
		username = u.Username
	} else if !errors.Is(err, accounts.ErrAccountNotFound) {
		return nil, err
	}
	out := make([]runtime.Presence, len(socks))
	for i, s := range socks {
		out[i] = presence{userID: s.UserID, sessionID: s.ID, node: realtime.NodeName(s.Node), username: username}
	}
	return out, nil
}
