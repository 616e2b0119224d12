// Package realtime provides Latchkey's realtime socket: Nakama's `GET /ws` with its handshake, its
// envelopes in JSON and protobuf, ping and RPC, server-side disconnects, and the sockets' session
// semantics across nodes (single_socket and the per-user cap, SessionDisconnect, closing on revocation and
// ban), and a cap on the sockets one node holds.
//
// A Hub holds this node's sockets. Cross-node work goes through the store: each socket is registered in
// the socket registry so server code on any node can list it, and actions on a socket held elsewhere are
// appended to the socket command feed that every node follows. Revocations arrive through the sessions
// manager, which follows the revocation feed.
package realtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"
	"github.com/heroiclabs/nakama-common/rtapi"

	"github.com/latchkeyhq/latchkey/internal/sessions"
	"github.com/latchkeyhq/latchkey/internal/storage"
	"github.com/latchkeyhq/latchkey/internal/tokens"
)

// Config holds the socket settings (Nakama's socket.* keys and session.single_socket).
type Config struct {
	MaxMessageSize  int64
	ReadBufferSize  int
	WriteBufferSize int
	PingPeriod      time.Duration
	PongWait        time.Duration
	WriteWait       time.Duration
	QueueSize       int
	SingleSocket    bool
	// CloseOnRevoke closes a socket when its login session ends; without it only a ban or a deleted
	// account closes a socket on revocation, as in Nakama.
	CloseOnRevoke bool
	// MaxSocketsPerUser caps a user's open sockets across the nodes: a new socket beyond it closes the
	// user's oldest. 0 means no cap; SingleSocket is the cap of one.
	MaxSocketsPerUser int
	// MaxSockets caps the sockets this node holds: beyond it a handshake is refused (503) before anything
	// is written. 0 means no cap.
	MaxSockets int
	// NodeName is the configured node name; the hub's node id adds a random suffix, so that two processes
	// with the same name (the default) are still told apart in the registry.
	NodeName string
}

// Runtime is the server code the socket runs: RPCs, realtime hooks and session events. runtimehost.Host
// implements it.
type Runtime interface {
	// Rpc runs the RPC id (lowercased) with the caller on ctx; found is false for an unknown id. An error
	// is an *api.Error whose message may be shown to the client, or an internal failure.
	Rpc(ctx context.Context, id, payload string) (result string, found bool, err error)
	// BeforeRt runs the before-hook of the message kind, returning the envelope to go on with (in itself
	// when no hook is registered), nil to refuse the message, or an error for the client.
	BeforeRt(ctx context.Context, name string, in *rtapi.Envelope) (*rtapi.Envelope, error)
	// AfterRt runs the after-hook of the message kind, if any.
	AfterRt(ctx context.Context, name string, out, in *rtapi.Envelope)
	// SessionStart and SessionEnd report a socket opening and closing; they must not block.
	SessionStart(ctx context.Context)
	SessionEnd(ctx context.Context, reason string)
}

// Deps are the hub's collaborators.
type Deps struct {
	Sessions *sessions.Manager
	Users    storage.Users
	Registry storage.Sockets
	Runtime  Runtime // optional
	Clock    func() time.Time
	Logger   *slog.Logger
}

// Timing of the cross-node machinery. A node's registry rows count while the node was seen within
// nodeAliveWindow; it refreshes that every nodeTouchInterval. Commands are read at least every
// commandPollInterval (PostgreSQL wakes followers at once) and kept for commandRetention.
const (
	nodeTouchInterval   = 10 * time.Second
	nodeAliveWindow     = 35 * time.Second
	nodeDeadAfter       = 2 * time.Minute
	commandPollInterval = 500 * time.Millisecond
	commandRetention    = 10 * time.Minute
	// storeTimeout bounds each registry write the hub makes outside a request.
	storeTimeout = 5 * time.Second
	// closeGrace is how long a socket waits for the client's answer to its close frame.
	closeGrace = time.Second
)

// Close reasons, sent in the close frame and reported to SessionEnd.
const (
	reasonClientClosed = "client closed"
	reasonDisconnect   = "server-side session disconnect"
	reasonSingleSocket = "single_socket"
	reasonRevoked      = "session ended"
	reasonBanned       = "account banned or deleted"
	reasonShutdown     = "server shutting down"
	reasonQueueFull    = "outgoing queue full"
	reasonTimeout      = "ping timeout"
	reasonReadError    = "read error"
	reasonTooBig       = "message too big"
	reasonSocketCap    = "socket cap"
)

// Hub accepts and holds this node's sockets.
type Hub struct {
	cfg      Config
	node     string
	sessions *sessions.Manager
	users    storage.Users
	registry storage.Sockets
	rt       Runtime
	clock    func() time.Time
	log      *slog.Logger
	upgrader websocket.Upgrader

	// base is the context of every socket's calls; cancelled by Shutdown.
	base       context.Context
	cancelBase context.CancelFunc

	mu        sync.RWMutex
	byID      map[string]*conn
	byUser    map[string]map[*conn]struct{}
	byToken   map[string]map[*conn]struct{}
	shutdown  bool
	conns     sync.WaitGroup
	followSeq int64

	// places counts the sockets this node holds or is opening: a handshake takes a place before it writes
	// anything (see reserve) and its socket gives it back when it ends.
	places atomic.Int64
	// capAsked remembers the sockets on other nodes this node has asked to close for the per-user cap.
	capAsked capMemo
}

// New returns a hub. Call Run to follow the other nodes, and Shutdown to close every socket.
func New(cfg Config, d Deps) *Hub {
	if d.Clock == nil {
		d.Clock = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	var suffix [instanceSuffixBytes]byte
	rand.Read(suffix[:])
	name := cfg.NodeName
	if name == "" {
		name = "latchkey"
	}
	h := &Hub{
		cfg: cfg, node: name + "-" + hex.EncodeToString(suffix[:]),
		sessions: d.Sessions, users: d.Users, registry: d.Registry, rt: d.Runtime, clock: d.Clock,
		log:  d.Logger.With("component", "realtime"),
		byID: map[string]*conn{}, byUser: map[string]map[*conn]struct{}{}, byToken: map[string]map[*conn]struct{}{},
	}
	h.base, h.cancelBase = context.WithCancel(context.Background())
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  cfg.ReadBufferSize,
		WriteBufferSize: cfg.WriteBufferSize,
		// Writes borrow a buffer only while they write, so an idle socket holds none.
		WriteBufferPool: &sync.Pool{},
		// Game clients connect from anywhere, browsers included, and authenticate with the token; Nakama
		// accepts every origin too.
		CheckOrigin: func(*http.Request) bool { return true },
		// The handshake's errors are written by ServeHTTP in Nakama's plain-text form.
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, http.StatusText(status), status)
		},
	}
	if d.Sessions != nil {
		d.Sessions.OnRevoke(h.revoked)
		d.Sessions.OnAccountEnd(h.accountEnded)
	}
	return h
}

// SetRuntime sets the server code after construction, for the composition root, whose runtime host needs
// the hub for its own server functions. Call it before serving.
func (h *Hub) SetRuntime(rt Runtime) { h.rt = rt }

// Node returns this node's id in the socket registry: the node name and a random instance suffix.
func (h *Hub) Node() string { return h.node }

// NodeName returns the configured node name of a node id from the registry, which is what server code
// sees as its own node (runtime context `node`) and so what it compares a presence's node with.
func NodeName(nodeID string) string {
	if i := strings.LastIndexByte(nodeID, '-'); i > 0 && len(nodeID)-i-1 == 2*instanceSuffixBytes {
		return nodeID[:i]
	}
	return nodeID
}

// instanceSuffixBytes is the size of the random part of a node id.
const instanceSuffixBytes = 4

// Caller is the socket a call comes from, on the context of the socket's RPCs, hooks and events.
type Caller struct {
	SocketID   string
	UserID     string
	Username   string
	TokenID    string
	Vars       map[string]string
	Expiry     int64
	Lang       string
	ClientIP   string
	ClientPort string
}

type callerKey struct{}

// CallerFrom returns the socket behind a call, if the call came over a socket.
func CallerFrom(ctx context.Context) (*Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(*Caller)
	return c, ok
}

// Handshake errors, in Nakama's plain-text form.
const (
	msgInvalidToken  = "Missing or invalid token"
	msgInvalidFormat = "Invalid format parameter"
	msgInvalidLang   = "Invalid lang parameter"
	msgUnavailable   = "Service unavailable, try again"
	msgNodeFull      = "Service unavailable: too many sockets on this server, try again later"
)

// nodeFullRetryAfter is the Retry-After, in seconds, of a handshake refused because the node is full:
// places come back as sockets close, or a load balancer sends the retry to another node.
const nodeFullRetryAfter = "5"

// maxLangBytes bounds the `lang` a socket keeps (Nakama's lang_tag column is 18 characters).
const maxLangBytes = 18

// ServeHTTP is the handshake of GET /ws: it checks the format and the session token (signature, expiry,
// revocation), takes one of the node's places (MaxSockets), registers the socket and upgrades; then
// single_socket or the per-user cap closes the user's older sockets. Refusals come before the upgrade, as
// plain text.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f format
	switch q.Get("format") {
	case "", "json":
		f = formatJSON
	case "protobuf":
		f = formatProtobuf
	default:
		http.Error(w, msgInvalidFormat, http.StatusBadRequest)
		return
	}
	token, ok := handshakeToken(r)
	if !ok {
		http.Error(w, msgInvalidToken, http.StatusUnauthorized)
		return
	}
	claims, err := h.sessions.Validate(token)
	if err != nil {
		http.Error(w, msgInvalidToken, http.StatusUnauthorized)
		return
	}
	lang := q.Get("lang")
	if lang == "" {
		lang = "en"
	}
	if len(lang) > maxLangBytes {
		http.Error(w, msgInvalidLang, http.StatusBadRequest)
		return
	}
	if !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, "Bad Request: a websocket upgrade is required", http.StatusBadRequest)
		return
	}
	h.mu.RLock()
	down := h.shutdown
	h.mu.RUnlock()
	if down {
		w.Header().Set("Retry-After", "1")
		http.Error(w, msgUnavailable, http.StatusServiceUnavailable)
		return
	}
	if !h.reserve() {
		w.Header().Set("Retry-After", nodeFullRetryAfter)
		http.Error(w, msgNodeFull, http.StatusServiceUnavailable)
		return
	}

	now := h.clock().UTC()
	ip, port, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	caller := &Caller{
		SocketID: uuid.NewString(), UserID: claims.UserID, Username: claims.Username, TokenID: claims.TokenID,
		Vars: claims.Vars, Expiry: claims.ExpiresAt, Lang: lang, ClientIP: ip, ClientPort: port,
	}
	// The socket is registered before the upgrade, so that a store that cannot take it is answered with a
	// retryable status rather than a socket that server code on other nodes cannot see.
	if err := h.registry.AddSocket(r.Context(), storage.Socket{
		ID: caller.SocketID, UserID: claims.UserID, SessionID: claims.TokenID, Node: h.node, CreateTime: now,
	}); err != nil {
		h.log.Warn("registering socket failed", "user_id", claims.UserID, "err", err)
		h.places.Add(-1)
		w.Header().Set("Retry-After", "1")
		http.Error(w, msgUnavailable, http.StatusServiceUnavailable)
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		h.unregister(caller.SocketID)
		h.places.Add(-1)
		return
	}
	c := newConn(h, ws, caller, claims.Generation, f, now)
	if !h.add(c) {
		c.close(websocket.CloseGoingAway, reasonShutdown)
	} else if _, err := h.sessions.Validate(token); err != nil {
		// Revoked between the check above and the registration: the revocation found no socket to close.
		c.close(websocket.CloseNormalClosure, reasonRevoked)
	}
	if h.cfg.SingleSocket {
		h.singleSocket(c)
	}
	if h.rt != nil {
		h.rt.SessionStart(c.ctx)
	}
	go c.run()
	// The cap is applied once the socket reads, and so do the sockets it closes: they take their client's
	// answer to the close frame and leave the registry at once. (Checked before their readers started, a
	// flood of one user's handshakes left every capped socket listed until its handshake's own check was
	// done, and each check read the longer list.)
	if !h.cfg.SingleSocket && h.cfg.MaxSocketsPerUser > 0 {
		h.capUser(c)
	}
}

// handshakeToken takes the token from the Authorization header when there is one (it must then be a
// Bearer token), else from the `token` query parameter.
func handshakeToken(r *http.Request) (string, bool) {
	if vals := r.Header.Values("Authorization"); len(vals) > 0 {
		if len(vals) != 1 {
			return "", false
		}
		tok, ok := strings.CutPrefix(vals[0], "Bearer ")
		return tok, ok && tok != ""
	}
	tok := r.URL.Query().Get("token")
	return tok, tok != ""
}

// reserve takes one of the node's MaxSockets places for a handshake, false when every one is taken. The
// compare-and-swap makes concurrent handshakes take distinct places, so they never overshoot the cap.
func (h *Hub) reserve() bool {
	if h.cfg.MaxSockets <= 0 {
		h.places.Add(1)
		return true
	}
	for {
		n := h.places.Load()
		if n >= int64(h.cfg.MaxSockets) {
			return false
		}
		if h.places.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// add indexes a new socket; false once shutdown has begun.
func (h *Hub) add(c *conn) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.shutdown {
		return false
	}
	h.conns.Add(1)
	h.byID[c.id] = c
	addIndex(h.byUser, c.UserID, c)
	addIndex(h.byToken, c.TokenID, c)
	return true
}

// ended is called once by each socket's reader when the socket is gone.
func (h *Hub) ended(c *conn, reason string) {
	h.mu.Lock()
	if h.byID[c.id] == c {
		delete(h.byID, c.id)
		removeIndex(h.byUser, c.UserID, c)
		removeIndex(h.byToken, c.TokenID, c)
		defer h.conns.Done()
	}
	down := h.shutdown
	h.mu.Unlock()
	h.places.Add(-1)
	// At shutdown the node's rows go in one statement (RemoveNode) rather than one per socket.
	if !down {
		h.unregister(c.id)
	}
	if h.rt != nil {
		h.rt.SessionEnd(c.ctx, reason)
	}
}

// unregister removes a socket from the registry. A failure leaves a row that lists a closed socket until
// this node stops; it is logged and not retried.
func (h *Hub) unregister(id string) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if err := h.registry.RemoveSocket(ctx, id); err != nil {
		h.log.Warn("unregistering socket failed", "socket_id", id, "err", err)
	}
}

func addIndex(m map[string]map[*conn]struct{}, key string, c *conn) {
	set := m[key]
	if set == nil {
		set = map[*conn]struct{}{}
		m[key] = set
	}
	set[c] = struct{}{}
}

func removeIndex(m map[string]map[*conn]struct{}, key string, c *conn) {
	if set := m[key]; set != nil {
		delete(set, c)
		if len(set) == 0 {
			delete(m, key)
		}
	}
}

// Len returns how many sockets this node holds.
func (h *Hub) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byID)
}

// collect returns the sockets of the index entry key matching keep.
func (h *Hub) collect(m map[string]map[*conn]struct{}, key string, keep func(*conn) bool) []*conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	var out []*conn
	for c := range m[key] {
		if keep == nil || keep(c) {
			out = append(out, c)
		}
	}
	return out
}

// singleSocket closes the user's sockets older than c, here at once and on the other nodes through the
// command feed. Comparing ages (not "every other socket") makes the newest socket win when two open at
// the same time on different nodes.
func (h *Hub) singleSocket(c *conn) {
	h.closeOlder(c.UserID, c.id, c.created)
	ctx, cancel := context.WithTimeout(h.base, storeTimeout)
	defer cancel()
	if _, err := h.registry.AppendSocketCommand(ctx, storage.SocketCommand{
		Kind: storage.SocketSingle, SocketID: c.id, UserID: c.UserID, Time: c.created,
	}); err != nil {
		h.log.Warn("single_socket: reaching other nodes failed", "user_id", c.UserID, "err", err)
	}
}

// closeOlder closes the user's local sockets created before the socket keep (at the same instant: those
// with a smaller id), each first told why with Nakama's single_socket notification.
func (h *Hub) closeOlder(userID, keep string, created time.Time) {
	for _, o := range h.collect(h.byUser, userID, func(o *conn) bool {
		return o.id != keep && (o.created.Before(created) || (o.created.Equal(created) && o.id < keep))
	}) {
		o.close(websocket.CloseNormalClosure, reasonSingleSocket, o.encode(singleSocketNotice(h.clock())))
	}
}

// capUser closes the user's oldest sockets beyond MaxSocketsPerUser, here at once and on the other nodes
// through the command feed. It runs once c is registered, indexed and reading, and reads the registry,
// which lists the user's sockets on every live node oldest first (by create time, then id), so every node
// picks the same ones. When two sockets open at once, the handshake that reads last sees both and closes
// the excess; the excess is always the oldest of the list, so the newest socket is never closed. A socket
// picked here that is not indexed yet (here or on its node) misses its close, but its handshake's own
// read comes after this socket's registration and closes what is still beyond the cap, itself included.
func (h *Hub) capUser(c *conn) {
	ctx, cancel := context.WithTimeout(h.base, storeTimeout)
	defer cancel()
	list, err := h.registry.UserSockets(ctx, c.UserID, h.clock().Add(-nodeAliveWindow))
	if err != nil {
		if h.base.Err() == nil { // not the shutdown cutting the read short
			h.log.Warn("socket cap: listing the user's sockets failed; the user's next socket checks again", "user_id", c.UserID, "err", err)
		}
		return
	}
	for _, s := range list[:max(len(list)-h.cfg.MaxSocketsPerUser, 0)] {
		if s.Node == h.node {
			h.mu.RLock()
			o := h.byID[s.ID]
			h.mu.RUnlock()
			if o != nil {
				o.close(websocket.CloseNormalClosure, reasonSocketCap)
			}
			continue
		}
		// A socket being closed stays listed until its node has seen the client go; one command is enough.
		if !h.capAsked.add(s.ID) {
			continue
		}
		if _, err := h.registry.AppendSocketCommand(ctx, storage.SocketCommand{
			Kind: storage.SocketDisconnect, SocketID: s.ID, Reason: reasonSocketCap, Time: h.clock().UTC(),
		}); err != nil {
			h.capAsked.remove(s.ID)
			if h.base.Err() == nil {
				h.log.Warn("socket cap: reaching another node failed; the user's next socket asks again", "user_id", c.UserID, "err", err)
			}
		}
	}
}

// capMemo is a set of socket ids, bounded by emptying it when full: forgetting an id only costs a
// repeated command.
type capMemo struct {
	mu  sync.Mutex
	ids map[string]struct{}
}

// maxCapMemo bounds capMemo; it holds ids of sockets being closed, a handful per capped user at a time.
const maxCapMemo = 4096

// add records id and reports whether it was new.
func (m *capMemo) add(id string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.ids[id]; ok {
		return false
	}
	if m.ids == nil || len(m.ids) >= maxCapMemo {
		m.ids = map[string]struct{}{}
	}
	m.ids[id] = struct{}{}
	return true
}

func (m *capMemo) remove(id string) {
	m.mu.Lock()
	delete(m.ids, id)
	m.mu.Unlock()
}

// revoked closes the sockets opened with the tokens of revoked sessions. Without CloseOnRevoke only a ban
// or a deleted account closes them, which takes a read of the account, made off the caller's goroutine.
func (h *Hub) revoked(revs []storage.Revocation) {
	for _, r := range revs {
		var conns []*conn
		if r.IsCut() {
			conns = h.collect(h.byUser, r.UserID, func(c *conn) bool { return r.Ends(c.UserID, c.TokenID, c.gen) })
		} else {
			conns = h.collect(h.byToken, r.SessionID, nil)
		}
		if len(conns) == 0 {
			continue
		}
		if h.cfg.CloseOnRevoke {
			for _, c := range conns {
				c.close(websocket.CloseNormalClosure, reasonRevoked)
			}
			continue
		}
		go h.closeIfBanned(r.UserID, conns)
	}
}

func (h *Hub) closeIfBanned(userID string, conns []*conn) {
	ctx, cancel := context.WithTimeout(h.base, storeTimeout)
	defer cancel()
	u, err := h.users.UserByID(ctx, userID)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		h.log.Warn("checking a revoked session's account failed; its sockets stay open", "user_id", userID, "err", err)
		return
	case !u.Banned():
		return
	}
	for _, c := range conns {
		c.close(websocket.CloseNormalClosure, reasonBanned)
	}
}

// accountEnded closes every socket of a banned or deleted account, here at once and on the other nodes
// through the command feed. It closes them whatever socket.close_on_revoke says, as Nakama does, and even
// those whose session had already ended (with close_on_revoke off, sockets outlive their session).
func (h *Hub) accountEnded(ctx context.Context, userID string, at time.Time, _ string) {
	h.closeUser(userID, at, reasonBanned)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeTimeout)
	defer cancel()
	if _, err := h.registry.AppendSocketCommand(ctx, storage.SocketCommand{
		Kind: storage.SocketDisconnectUser, UserID: userID, Reason: reasonBanned, Time: at,
	}); err != nil {
		h.log.Warn("ban: reaching other nodes' sockets failed; the revoked sessions still close them", "user_id", userID, "err", err)
	}
}

// closeUser closes the user's local sockets opened at or before at.
func (h *Hub) closeUser(userID string, at time.Time, reason string) {
	for _, c := range h.collect(h.byUser, userID, func(c *conn) bool { return !c.created.After(at) }) {
		c.close(websocket.CloseNormalClosure, reason)
	}
}

// Disconnect closes the socket with this id wherever it is held: here at once, elsewhere through the
// command feed. An unknown id is not an error.
func (h *Hub) Disconnect(ctx context.Context, socketID, reason string) error {
	if _, ok := tokens.ParseID(socketID); !ok {
		return nil // no socket has such an id
	}
	h.mu.RLock()
	c := h.byID[socketID]
	h.mu.RUnlock()
	if c != nil {
		c.close(websocket.CloseNormalClosure, reasonText(reason))
		return nil
	}
	_, err := h.registry.AppendSocketCommand(ctx, storage.SocketCommand{
		Kind: storage.SocketDisconnect, SocketID: socketID, Reason: reason, Time: h.clock().UTC(),
	})
	return err
}

// UserSockets lists the user's sockets on every live node.
func (h *Hub) UserSockets(ctx context.Context, userID string) ([]storage.Socket, error) {
	return h.registry.UserSockets(ctx, userID, h.clock().Add(-nodeAliveWindow))
}

func reasonText(r string) string {
	if r == "" {
		return reasonDisconnect
	}
	return r
}

// Start registers this node in the registry; call it before serving.
func (h *Hub) Start(ctx context.Context) error {
	if err := h.registry.TouchNode(ctx, h.node, h.clock().UTC()); err != nil {
		return err
	}
	seq, err := h.registry.LastSocketCommandSeq(ctx)
	if err != nil {
		return err
	}
	h.followSeq = seq
	return nil
}

// Run follows the socket command feed and keeps this node alive in the registry until ctx ends. Store
// errors are logged once and retried; sockets keep working meanwhile.
func (h *Hub) Run(ctx context.Context) {
	wake := make(chan struct{}, 1)
	if w, ok := h.registry.(storage.SocketFeedWatcher); ok {
		go w.WatchSocketCommands(ctx, func() {
			select {
			case wake <- struct{}{}:
			default:
			}
		})
	}
	poll := time.NewTicker(commandPollInterval)
	defer poll.Stop()
	lastTouch, lastSweep := h.clock(), h.clock()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		case <-wake:
		}
		err := h.follow(ctx)
		if now := h.clock(); err == nil && now.Sub(lastTouch) >= nodeTouchInterval {
			err = h.touch(ctx, now)
			lastTouch = now
		}
		if now := h.clock(); err == nil && now.Sub(lastSweep) >= time.Minute {
			h.sweep(ctx, now)
			lastSweep = now
		}
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				h.log.Warn("socket command feed unreachable; retrying", "err", err)
			}
			failing = true
		case err == nil && failing:
			h.log.Info("socket command feed reachable again")
			failing = false
		}
	}
}

func (h *Hub) touch(ctx context.Context, now time.Time) error {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	return h.registry.TouchNode(ctx, h.node, now.UTC())
}

// sweep removes what no node needs any more: nodes that stopped without saying so, with their sockets,
// and old commands. Every node runs it; the deletes are idempotent.
func (h *Hub) sweep(ctx context.Context, now time.Time) {
	ctx, cancel := context.WithTimeout(ctx, storeTimeout)
	defer cancel()
	if n, err := h.registry.RemoveDeadNodes(ctx, now.Add(-nodeDeadAfter).UTC()); err != nil {
		h.log.Warn("removing dead nodes failed", "err", err)
	} else if n > 0 {
		h.log.Info("removed sockets of nodes that stopped answering", "nodes", n)
	}
	if _, err := h.registry.DeleteSocketCommandsBefore(ctx, now.Add(-commandRetention).UTC()); err != nil {
		h.log.Warn("deleting old socket commands failed", "err", err)
	}
}

// follow applies every command after the last one read.
func (h *Hub) follow(ctx context.Context) error {
	const page = 500
	for {
		qctx, cancel := context.WithTimeout(ctx, storeTimeout)
		cmds, err := h.registry.SocketCommandsSince(qctx, h.followSeq, page)
		cancel()
		if err != nil {
			return err
		}
		for _, c := range cmds {
			h.apply(c)
			h.followSeq = c.Seq
		}
		if len(cmds) < page {
			return nil
		}
	}
}

func (h *Hub) apply(cmd storage.SocketCommand) {
	switch cmd.Kind {
	case storage.SocketDisconnect:
		h.mu.RLock()
		c := h.byID[cmd.SocketID]
		h.mu.RUnlock()
		if c != nil {
			c.close(websocket.CloseNormalClosure, reasonText(cmd.Reason))
		}
	case storage.SocketSingle:
		h.closeOlder(cmd.UserID, cmd.SocketID, cmd.Time)
	case storage.SocketDisconnectUser:
		h.closeUser(cmd.UserID, cmd.Time, reasonText(cmd.Reason))
	default:
		h.log.Warn("unknown socket command ignored", "kind", cmd.Kind, "seq", cmd.Seq)
	}
}

// Shutdown closes every socket with a going-away close frame, waits until they are gone or ctx ends, and
// removes this node from the registry. New handshakes are refused from its start.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.shutdown = true
	all := make([]*conn, 0, len(h.byID))
	for _, c := range h.byID {
		all = append(all, c)
	}
	h.mu.Unlock()
	for _, c := range all {
		c.close(websocket.CloseGoingAway, reasonShutdown)
	}
	done := make(chan struct{})
	go func() {
		h.conns.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		h.log.Warn("sockets still open at the shutdown deadline", "count", h.Len())
		for _, c := range all {
			c.ws.Close()
		}
	}
	h.cancelBase()
	rctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if _, err := h.registry.RemoveNode(rctx, h.node); err != nil {
		h.log.Warn("removing this node from the socket registry failed", "err", err)
	}
}
