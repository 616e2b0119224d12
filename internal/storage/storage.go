// Package storage defines the persistence contract every Latchkey backend implements: plain value types,
// sentinel errors and narrow per-aggregate interfaces.
//
// Backends live in sub-packages (sqlite, postgres) and are proven by the conformance suite in storagetest.
// Times cross this boundary as time.Time in UTC; a backend may store them at millisecond precision, and
// callers must not depend on anything finer.
package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/latchkeyhq/latchkey/internal/migrate"
)

// Sentinel errors. Backends wrap driver errors into these so that callers can use errors.Is.
var (
	// ErrNotFound is returned when the requested row does not exist.
	ErrNotFound = errors.New("storage: not found")
	// ErrUsernameTaken is returned when a username is already used by another account.
	ErrUsernameTaken = errors.New("storage: username taken")
	// ErrIdentityTaken is returned when an identity (device id, email, custom id or platform id) already
	// belongs to another account.
	ErrIdentityTaken = errors.New("storage: identity taken")
	// ErrLastIdentity is returned when unlinking the only identity an account has left, which would leave
	// no way to sign in to it.
	ErrLastIdentity = errors.New("storage: last identity")
	// ErrConflict is returned by compare-and-swap updates whose precondition no longer holds.
	ErrConflict = errors.New("storage: conflict")
	// ErrUnavailable wraps a failure to reach the database (refused or lost connection, server shutting
	// down, pool exhausted past the context deadline) or to write to it (a read-only file, database or
	// server, a full disk, an I/O error, a lock held past the busy timeout). Such faults pass when their
	// cause does, without a restart. The operation may or may not have been applied only when the connection
	// was lost after the statement was sent; callers answer "try again" in every case.
	ErrUnavailable = errors.New("storage: unavailable")
)

// IdentityKind names the kind of external identifier an account can be found by.
type IdentityKind int

// Identity kinds. An account holds any number of devices and at most one identity of each other kind.
const (
	IdentityDevice IdentityKind = iota + 1
	IdentityEmail
	IdentityCustom
	IdentityApple
	IdentityGoogle
	IdentityGameCenter
	IdentitySteam
	IdentityFacebook
	IdentityFacebookInstantGame
)

func (k IdentityKind) String() string {
	switch k {
	case IdentityDevice:
		return "device"
	case IdentityEmail:
		return "email"
	case IdentityCustom:
		return "custom"
	case IdentityApple:
		return "apple"
	case IdentityGoogle:
		return "google"
	case IdentityGameCenter:
		return "gamecenter"
	case IdentitySteam:
		return "steam"
	case IdentityFacebook:
		return "facebook"
	case IdentityFacebookInstantGame:
		return "facebookinstantgame"
	}
	return "unknown"
}

// User is an account row. Optional text fields are empty when unset; optional times are the zero Time.
type User struct {
	ID          string // canonical lowercase UUID text
	Username    string
	DisplayName string
	AvatarURL   string
	LangTag     string
	Location    string
	Timezone    string
	Metadata    string // JSON object text, "{}" when empty
	Wallet      string // JSON object text, "{}" when empty
	Email       string // lowercased
	Password    []byte // bcrypt hash; nil when the account has no password
	CustomID    string

	// The platform ids: the Apple, Google and Facebook user ids, the Game Center player id, the SteamID64
	// and the Facebook Instant Games player id.
	AppleID               string
	GoogleID              string
	GameCenterID          string
	SteamID               string
	FacebookID            string
	FacebookInstantGameID string

	Devices     []string // device ids linked to the account, sorted
	CreateTime  time.Time
	UpdateTime  time.Time
	VerifyTime  time.Time // zero when not verified
	DisableTime time.Time // zero when not banned
}

// Banned reports whether the account is disabled.
func (u *User) Banned() bool { return !u.DisableTime.IsZero() }

// field returns the field that holds the account's identity of kind, or nil for IdentityDevice (an account
// holds many devices) and unknown kinds.
func (u *User) field(kind IdentityKind) *string {
	switch kind {
	case IdentityEmail:
		return &u.Email
	case IdentityCustom:
		return &u.CustomID
	case IdentityApple:
		return &u.AppleID
	case IdentityGoogle:
		return &u.GoogleID
	case IdentityGameCenter:
		return &u.GameCenterID
	case IdentitySteam:
		return &u.SteamID
	case IdentityFacebook:
		return &u.FacebookID
	case IdentityFacebookInstantGame:
		return &u.FacebookInstantGameID
	}
	return nil
}

// SetIdentity records identity as the account's identity of kind: it replaces the previous one, or for
// IdentityDevice adds the device (keeping Devices sorted). An unknown kind changes nothing.
func (u *User) SetIdentity(kind IdentityKind, identity string) {
	if kind == IdentityDevice {
		if i, found := slices.BinarySearch(u.Devices, identity); !found {
			u.Devices = slices.Insert(u.Devices, i, identity)
		}
		return
	}
	if f := u.field(kind); f != nil {
		*f = identity
	}
}

// Holds reports whether identity is the account's identity of kind, or one of its devices. An empty
// identity is never held.
func (u *User) Holds(kind IdentityKind, identity string) bool {
	if identity == "" {
		return false
	}
	if kind == IdentityDevice {
		return slices.Contains(u.Devices, identity)
	}
	f := u.field(kind)
	return f != nil && *f == identity
}

// IdentityCount returns how many identities the account can sign in with: each device, and each set email,
// custom id and platform id.
func (u *User) IdentityCount() int {
	n := len(u.Devices)
	// Every kind after IdentityDevice is held in one field.
	for k := IdentityDevice + 1; k <= IdentityFacebookInstantGame; k++ {
		if *u.field(k) != "" {
			n++
		}
	}
	return n
}

// CheckUnlink returns the error UnlinkIdentity gives for removing identity from the account: ErrNotFound
// when the account does not hold it, ErrLastIdentity when it is the account's last one, nil otherwise.
func (u *User) CheckUnlink(kind IdentityKind, identity string) error {
	switch {
	case !u.Holds(kind, identity):
		return ErrNotFound
	case u.IdentityCount() < 2:
		return ErrLastIdentity
	}
	return nil
}

// CheckLink rejects the arguments of LinkIdentity no caller may pass: an unknown kind, an empty identity
// (which would be stored as a value rather than as unset) or an email without its password hash.
func CheckLink(kind IdentityKind, identity string, password []byte) error {
	switch {
	case kind < IdentityDevice || kind > IdentityFacebookInstantGame:
		return fmt.Errorf("unknown identity kind %d", kind)
	case identity == "":
		return errors.New("empty identity")
	case kind == IdentityEmail && len(password) == 0:
		return errors.New("email without a password")
	}
	return nil
}

// NewUser is what CreateUser needs to insert an account with its first identity, atomically.
type NewUser struct {
	ID       string
	Username string
	Kind     IdentityKind
	Identity string // device id, lowercased email, custom id or platform id
	Password []byte // bcrypt hash, email accounts only
	Time     time.Time
}

// ProfileUpdate lists the profile fields to change. A nil pointer leaves the field unchanged; a pointer to
// "" clears it (except Username, which callers validate as non-empty).
type ProfileUpdate struct {
	Username    *string
	DisplayName *string
	AvatarURL   *string
	LangTag     *string
	Location    *string
	Timezone    *string
	Metadata    *string // JSON object text
	Time        time.Time
}

// Empty reports whether the update changes nothing.
func (p *ProfileUpdate) Empty() bool {
	return p.Username == nil && p.DisplayName == nil && p.AvatarURL == nil && p.LangTag == nil &&
		p.Location == nil && p.Timezone == nil && p.Metadata == nil
}

// Users is the account aggregate.
type Users interface {
	// CreateUser inserts the account and its identity in one transaction. It returns ErrUsernameTaken or
	// ErrIdentityTaken on a uniqueness clash and creates nothing in that case.
	CreateUser(ctx context.Context, u NewUser) (*User, error)
	// UserByID returns ErrNotFound for an unknown id.
	UserByID(ctx context.Context, id string) (*User, error)
	// UserByIdentity finds an account by device id, lowercased email, custom id or platform id;
	// ErrNotFound otherwise.
	UserByIdentity(ctx context.Context, kind IdentityKind, identity string) (*User, error)
	// UserByUsername is an exact, case-sensitive match; ErrNotFound otherwise.
	UserByUsername(ctx context.Context, username string) (*User, error)
	// UsersByIDs returns the accounts whose id is in ids or whose username is exactly one of usernames,
	// each once, in no particular order; ids that are not UUIDs, and ids and usernames no account has, are
	// left out. Password may be missing from the result.
	UsersByIDs(ctx context.Context, ids, usernames []string) ([]User, error)
	// UpdateProfile applies the update; ErrNotFound for an unknown id, ErrUsernameTaken on a clash.
	UpdateProfile(ctx context.Context, id string, p ProfileUpdate) error
	// SetDisableTime bans (non-zero t) or unbans (zero t) the account; ErrNotFound for an unknown id.
	SetDisableTime(ctx context.Context, id string, t time.Time) error
	// LinkIdentity adds identity to the account and sets its UpdateTime to at. A device is added to the
	// account's devices; any other kind replaces the account's previous identity of that kind, and an
	// email is set together with password, the bcrypt hash of its password (password is ignored for the
	// other kinds). Linking an identity the account already holds succeeds (for an email, it sets the new
	// password). It returns ErrNotFound for an unknown user and ErrIdentityTaken when the identity belongs
	// to another account; of two accounts linking one identity at once, exactly one gets it.
	LinkIdentity(ctx context.Context, userID string, kind IdentityKind, identity string, password []byte, at time.Time) error
	// UnlinkIdentity removes identity from the account (unlinking the email removes the password too) and
	// sets its UpdateTime to at. It returns ErrNotFound when the user does not exist or does not hold that
	// identity, and ErrLastIdentity when it is the account's last one (see User.IdentityCount). The check
	// and the removal are atomic: two concurrent unlinks of an account's last two identities cannot both
	// succeed.
	UnlinkIdentity(ctx context.Context, userID string, kind IdentityKind, identity string, at time.Time) error
	// DeleteUser removes the account with its devices and sessions; ErrNotFound for an unknown id. The
	// revocation feed and the security events keep their entries about it, so that every node keeps
	// refusing tokens revoked before the deletion: callers revoke the account's sessions first
	// (RevokeUserSessions). Its identities and username are free for new accounts afterwards.
	DeleteUser(ctx context.Context, id string) error
}

// Session is one login: every token issued by one authentication, and by the refreshes that descend from it,
// carries its ID as the `tid` claim.
type Session struct {
	ID          string // canonical lowercase UUID text
	UserID      string
	CreateTime  time.Time
	RefreshTime time.Time // last refresh; equals CreateTime until the first refresh
	// ExpireTime is the latest expiry of any token issued for this session (refresh token or session
	// token, whichever is later). After it, no token of the session can be valid.
	ExpireTime time.Time
	RevokeTime time.Time // zero while live
	// RevokeReason is a short machine word ("logout", "logout_all", "ban", ...), empty while live.
	RevokeReason string
	// RefreshSeq counts refreshes; compare-and-swap updates match on it.
	RefreshSeq int64
	// Generation is the account's session generation when the session was created (see
	// Sessions.RevokeUserSessions); every token of the session carries it as the gen claim. CreateSession
	// assigns it, whatever the caller sets.
	Generation int64
	Vars       map[string]string
	UserAgent  string
	ClientIP   string
}

// Revoked reports whether the session has been ended.
func (s *Session) Revoked() bool { return !s.RevokeTime.IsZero() }

// AnySeq as SessionRefresh.ExpectSeq applies the refresh whatever the session's current RefreshSeq, for
// refreshes that do not exclude each other (refresh-token rotation off); the session must still be live.
const AnySeq int64 = -1

// SessionRefresh is a compare-and-swap update of a live session after a refresh.
type SessionRefresh struct {
	ID string
	// ExpectSeq is the RefreshSeq the caller read; the update fails with ErrConflict otherwise. AnySeq
	// skips the comparison.
	ExpectSeq   int64
	RefreshTime time.Time
	ExpireTime  time.Time
	Vars        map[string]string
}

// Revocation is one entry of the revocation feed. An entry with a SessionID ends that session of user
// UserID. An entry without one is an account cut: it ends every session of UserID whose Generation is
// below Generation, except the session Keep (when not empty). Either way, the tokens it ends can be valid
// at most until ExpireTime. Seq increases strictly in commit order: a reader that sees an entry sees every
// entry with a smaller Seq, which is what lets followers resume after the last Seq they read. A Seq is
// never reused, even after old entries are deleted.
type Revocation struct {
	Seq        int64
	SessionID  string
	UserID     string
	ExpireTime time.Time
	RevokeTime time.Time
	Generation int64  // account cuts only: the generation the cut started
	Keep       string // account cuts only: the session the cut spared, or ""
}

// IsCut reports whether the entry is an account cut rather than the end of one session.
func (r *Revocation) IsCut() bool { return r.SessionID == "" }

// Ends reports whether the entry ends a session of user userID with id sessionID created in generation
// gen: it names that session, or it is a cut of that user that reaches the generation and spares another
// session.
func (r *Revocation) Ends(userID, sessionID string, gen int64) bool {
	if r.SessionID != "" {
		return r.SessionID == sessionID
	}
	return r.UserID == userID && gen < r.Generation && sessionID != r.Keep
}

// SessionStart is a login's writes, which StartSession makes in one transaction.
type SessionStart struct {
	// Session is the new session, as CreateSession takes it.
	Session Session
	// MaxLive caps the user's live sessions: when the new one makes more, the oldest are revoked, as
	// RevokeOldestSessions(ctx, userID, Session.ID, MaxLive, CapReason, Session.CreateTime) does. 0 means
	// no cap.
	MaxLive   int
	CapReason string
	// Events are appended after the session is stored, in order (the session's own, say).
	Events []Event
	// CapEvent, when its Kind is set, is appended once for each session the cap revoked, with that
	// session's id as SessionID.
	CapEvent Event
}

// SessionCursor is a position in a user's session list, whose order is newest first: CreateTime
// descending, then ID descending, so that sessions created in the same millisecond keep a stable order.
// The sessions after a cursor are those created before CreateTime, and those created at CreateTime whose
// ID is smaller. The zero cursor is the start of the list.
type SessionCursor struct {
	CreateTime time.Time
	ID         string // canonical lowercase UUID text
}

// IsZero reports whether c is the start of the list.
func (c SessionCursor) IsZero() bool { return c.ID == "" }

// Sessions is the session aggregate and its revocation feed.
//
// A session ends in one of two ways: on its own (RevokeSession, RevokeOldestSessions), which stamps its row
// and appends one feed entry, or with every other session of its account (RevokeUserSessions), which
// writes one account cut whatever the number of sessions: the account's session generation moves on, and
// the sessions created in an earlier generation (but the one kept) are ended from then on. Every method
// treats a session a cut ended as revoked: SessionByID reports it with the RevokeTime and RevokeReason of
// the account's latest cut, and no method lists, refreshes, counts or revokes it as live.
type Sessions interface {
	// CreateSession inserts a new live session in the account's current generation, which it returns;
	// ErrNotFound if the user does not exist. An account cut that commits after the session was inserted
	// ends it; one that committed before does not.
	CreateSession(ctx context.Context, s Session) (generation int64, err error)
	// StartSession makes a login's writes in one transaction: it creates the session (as CreateSession),
	// revokes the oldest sessions beyond st.MaxLive (as RevokeOldestSessions, the new session counting as
	// the newest) and appends st.Events, then a CapEvent per revoked session. It returns the session's
	// generation and the cap's feed entries in Seq order. ErrNotFound if the user does not exist, and then
	// nothing is written; a session id that exists already is ErrConflict.
	StartSession(ctx context.Context, st SessionStart) (generation int64, revs []Revocation, err error)
	// SessionByID returns ErrNotFound for an unknown id.
	SessionByID(ctx context.Context, id string) (*Session, error)
	// RefreshSession applies r if the session is live, unrevoked and still at r.ExpectSeq, and returns the
	// updated session with RefreshSeq incremented. It returns ErrNotFound for an unknown id and ErrConflict
	// when the session was revoked or refreshed concurrently.
	RefreshSession(ctx context.Context, r SessionRefresh) (*Session, error)
	// RevokeSession revokes one session and appends it to the revocation feed in one transaction. Revoking
	// an already revoked session is a no-op that returns (nil, nil). ErrNotFound for an unknown id.
	RevokeSession(ctx context.Context, id string, reason string, at time.Time) (*Revocation, error)
	// RevokeUserSessions ends every live session of the user whose ExpireTime is after `at`, except the
	// session keep (when not empty and live), with one account cut, a constant-cost write: it starts a new
	// generation of the account and appends one feed entry (IsCut) whose Generation is the new one, whose
	// Keep is keep when that session was live (else ""), and whose ExpireTime is the latest ExpireTime of
	// the sessions it ended. It returns that entry and how many sessions it ended; when it ends none (or the
	// user does not exist) it writes nothing and returns (nil, 0, nil).
	RevokeUserSessions(ctx context.Context, userID, keep, reason string, at time.Time) (*Revocation, int, error)
	// RevokeOldestSessions revokes every live session of the user (unrevoked, ExpireTime after `at`) beyond
	// the newest keep, in SessionCursor order, and returns the new feed entries in Seq order. The session
	// newest, when not empty, counts as the newest whatever its CreateTime, so that a session just created
	// is kept even if another shares its millisecond. keep must not be negative.
	RevokeOldestSessions(ctx context.Context, userID, newest string, keep int, reason string, at time.Time) ([]Revocation, error)
	// ListUserSessions returns at most limit of the user's live (unrevoked, unexpired at `now`) sessions that
	// come after `after` in SessionCursor order (from the start when after is zero). A limit below 1
	// returns nothing.
	ListUserSessions(ctx context.Context, userID string, now time.Time, after SessionCursor, limit int) ([]Session, error)
	// RevocationsSince returns feed entries with Seq > after whose ExpireTime is after `now`, in Seq order,
	// at most limit of them.
	RevocationsSince(ctx context.Context, after int64, now time.Time, limit int) ([]Revocation, error)
	// DeleteExpiredSessions removes sessions (and their feed entries) whose ExpireTime is before `before`,
	// and returns how many sessions it removed.
	DeleteExpiredSessions(ctx context.Context, before time.Time) (int, error)
	// StoreID returns the store's id: a random canonical lowercase UUID made once, by the migration that
	// adds it, and never changed (reverting that migration and applying it again makes a new store). Every
	// token of the store's sessions carries it, so that tokens minted against another store (or against this
	// database before it was wiped) are told apart.
	StoreID(ctx context.Context) (string, error)
}

// FeedWatcher is implemented by backends that can push a signal when the revocation feed grows, so that
// followers need not wait for their next poll. Followers still poll: a signal only wakes them early.
type FeedWatcher interface {
	// WatchFeed calls wake after each committed transaction that appended to the revocation feed (signals
	// may be coalesced), and once after every (re)connection, so that the caller catches up on whatever it
	// missed while disconnected. It blocks until ctx is done, reconnecting with a bounded backoff, and
	// never calls wake concurrently with itself.
	WatchFeed(ctx context.Context, wake func())
}

// EventKind names a security event.
type EventKind string

// Security event kinds.
const (
	EventSessionCreated   EventKind = "session_created"
	EventSessionRefreshed EventKind = "session_refreshed"
	EventLoggedOut        EventKind = "logged_out"      // the user ended the session (logout, DELETE session)
	EventSessionRevoked   EventKind = "session_revoked" // ended by the server: ban, single_session, runtime code, admin
	EventRefreshReuse     EventKind = "refresh_reuse_detected"
	EventUserBanned       EventKind = "user_banned"
	EventUserUnbanned     EventKind = "user_unbanned"
	EventAccountDeleted   EventKind = "account_deleted"
	EventLoginLocked      EventKind = "login_locked" // too many wrong passwords: logins refused for a while
)

// Event is one entry of the security event log.
type Event struct {
	ID        int64 // assigned by the store, increasing with each append; ignored by AppendEvents
	Time      time.Time
	Kind      EventKind
	UserID    string
	SessionID string // empty for events about the account as a whole
	ClientIP  string // empty when not made by a client request
	Reason    string // short free text: the logout scope, "ban", "admin", ...
}

// Events is the security event log. It is append-only but for retention.
type Events interface {
	// AppendEvents stores the events in one transaction; the events of one call take increasing IDs in
	// the order given. IDs are never reused, even after the newest events are deleted.
	AppendEvents(ctx context.Context, evs ...Event) error
	// ListEvents returns the user's events newest first (by ID): at most limit of them (limit < 1 is an
	// error), and only those with ID < before when before > 0, so that callers can page backwards.
	ListEvents(ctx context.Context, userID string, before int64, limit int) ([]Event, error)
	// DeleteEventsBefore removes the events whose Time is before t (an event at exactly t is kept) and
	// returns how many it removed.
	DeleteEventsBefore(ctx context.Context, t time.Time) (int, error)
}

// Socket is one open realtime socket, registered by the node that holds it so that server code on any
// node can find a user's sockets.
type Socket struct {
	ID         string // the socket's session id, a canonical lowercase UUID
	UserID     string
	SessionID  string // the login session (token tid) the socket was opened with
	Node       string // the instance id of the node holding the socket
	CreateTime time.Time
}

// SocketCommandKind names what a socket command asks the nodes to do.
type SocketCommandKind string

// Socket command kinds.
const (
	// SocketDisconnect closes the socket SocketID wherever it is held.
	SocketDisconnect SocketCommandKind = "disconnect"
	// SocketSingle closes every socket of UserID except SocketID (session.single_socket).
	SocketSingle SocketCommandKind = "single_socket"
	// SocketDisconnectUser closes every socket of UserID opened at or before Time (a ban).
	SocketDisconnectUser SocketCommandKind = "disconnect_user"
)

// SocketCommand is one entry of the socket command feed, which carries cross-node socket actions the
// revocation feed does not imply. Seq increases strictly in commit order, as in the revocation feed.
type SocketCommand struct {
	Seq      int64
	Kind     SocketCommandKind
	SocketID string
	UserID   string
	Reason   string
	Time     time.Time
}

// Sockets is the registry of open realtime sockets across nodes, the nodes' liveness, and the socket
// command feed.
type Sockets interface {
	// AddSocket registers an open socket. Adding an id twice is ErrConflict.
	AddSocket(ctx context.Context, s Socket) error
	// RemoveSocket unregisters a socket; removing an unknown id is not an error.
	RemoveSocket(ctx context.Context, id string) error
	// UserSockets returns the user's registered sockets on nodes seen at or after aliveSince, oldest first.
	UserSockets(ctx context.Context, userID string, aliveSince time.Time) ([]Socket, error)
	// TouchNode records that the node is alive at t (insert or update).
	TouchNode(ctx context.Context, node string, t time.Time) error
	// RemoveNode unregisters a node and every socket it holds (at shutdown), returning how many sockets.
	RemoveNode(ctx context.Context, node string) (int, error)
	// RemoveDeadNodes unregisters nodes last seen before t with their sockets, returning how many nodes.
	RemoveDeadNodes(ctx context.Context, t time.Time) (int, error)
	// AppendSocketCommand appends a command to the feed and returns its Seq (ignoring c.Seq).
	AppendSocketCommand(ctx context.Context, c SocketCommand) (int64, error)
	// SocketCommandsSince returns the commands with Seq > after, in Seq order, at most limit of them.
	SocketCommandsSince(ctx context.Context, after int64, limit int) ([]SocketCommand, error)
	// LastSocketCommandSeq returns the highest Seq ever assigned, 0 when none.
	LastSocketCommandSeq(ctx context.Context) (int64, error)
	// DeleteSocketCommandsBefore removes commands whose Time is before t and returns how many.
	DeleteSocketCommandsBefore(ctx context.Context, t time.Time) (int, error)
}

// SocketFeedWatcher is implemented by backends that can push a signal when the socket command feed
// grows; its contract is FeedWatcher's, for the socket command feed.
type SocketFeedWatcher interface {
	WatchSocketCommands(ctx context.Context, wake func())
}

// TicketKey is one join-ticket signing key, shared by every node through the store.
type TicketKey struct {
	ID        string // the kid of the tickets it signs
	Algorithm string // the JWS algorithm it signs with: "EdDSA" or "ES256"
	Private   []byte // PKCS #8 DER
	Public    []byte // PKIX DER
	// CreateTime orders the keys: the newest signs.
	CreateTime time.Time
}

// Tickets is the join-ticket aggregate: the signing keys every node shares, and the record of redeemed
// tickets that makes each ticket one-time across nodes.
type Tickets interface {
	// TicketKeys returns every key, newest first (CreateTime descending, then ID descending).
	TicketKeys(ctx context.Context) ([]TicketKey, error)
	// AddTicketKey stores a key; ErrConflict if a key with its ID exists.
	AddTicketKey(ctx context.Context, k TicketKey) error
	// DeleteTicketKeysBefore removes the keys whose CreateTime is before t (a key created at exactly t is
	// kept) and returns how many it removed.
	DeleteTicketKeysBefore(ctx context.Context, t time.Time) (int, error)
	// RedeemTicket records that ticket id was redeemed; the record is needed until expire, the ticket's
	// expiry. It returns ErrConflict if the ticket was redeemed before: of any number of concurrent calls
	// with one id, on any number of nodes, exactly one succeeds.
	RedeemTicket(ctx context.Context, id string, expire time.Time) error
	// DeleteRedeemedTicketsBefore removes the records whose expiry is before t and returns how many.
	DeleteRedeemedTicketsBefore(ctx context.Context, t time.Time) (int, error)
}

// ImportedUser is an account as another server (Nakama) holds it, for ImportUser. Optional text fields
// are "" when unset; the identities and the username keep the account's id in both servers.
type ImportedUser struct {
	ID          string // canonical UUID text; the account keeps it
	Username    string
	DisplayName string
	AvatarURL   string
	LangTag     string
	Location    string
	Timezone    string
	Metadata    string // a JSON object's text ("{}" when none; "" is taken as "{}")
	Email       string // "" = none; stored lowercased, as every email is
	Password    []byte // bcrypt hash as Nakama stored it; nil = none

	CustomID              string
	AppleID               string
	FacebookID            string
	FacebookInstantGameID string
	GoogleID              string
	GameCenterID          string
	SteamID               string

	Devices    []string // device ids; the account ends up with exactly these
	CreateTime time.Time
	UpdateTime time.Time
	VerifyTime time.Time // zero = not verified
}

// ImportOutcome says what ImportUser did.
type ImportOutcome int

// Import outcomes.
const (
	ImportCreated   ImportOutcome = iota + 1 // the account did not exist
	ImportUpdated                            // the account existed and some field differed
	ImportUnchanged                          // the account existed as imported: nothing was written
)

func (o ImportOutcome) String() string {
	switch o {
	case ImportCreated:
		return "created"
	case ImportUpdated:
		return "updated"
	case ImportUnchanged:
		return "unchanged"
	}
	return "unknown"
}

// ImportConflict is ImportUser's answer when another account holds one of the imported account's unique
// values. Error names Field and OtherUserID but never Value, which may be an email or a platform id.
type ImportConflict struct {
	Field       string // "username", "email", "custom_id", "device_id", "apple_id", ...
	Value       string
	OtherUserID string
}

func (c *ImportConflict) Error() string {
	return "storage: import conflict: " + c.Field + " belongs to account " + c.OtherUserID
}

// Unwrap makes errors.Is(err, ErrConflict) hold.
func (c *ImportConflict) Unwrap() error { return ErrConflict }

// Imports is what an import from another server writes: accounts with their ids, and a checkpoint per
// source to resume from.
type Imports interface {
	// ImportUser creates the account u describes with u.ID, or brings the account with that id up to date
	// (profile, metadata, email, password, custom and platform ids, devices added and removed to match,
	// create, update and verify times), in one transaction. It returns ImportUnchanged, writing nothing, when
	// every field already matches. When another account holds u's username, email, custom id, a device id
	// or a platform id, it returns an *ImportConflict (errors.Is ErrConflict) and writes nothing. It never
	// touches the account's ban (disable time), sessions or session generation.
	ImportUser(ctx context.Context, u ImportedUser) (ImportOutcome, error)
	// ImportCheckpoint returns the last id SetImportCheckpoint recorded for source, "" when none.
	ImportCheckpoint(ctx context.Context, source string) (string, error)
	// SetImportCheckpoint records lastID as the last account of source fully imported.
	SetImportCheckpoint(ctx context.Context, source, lastID string) error
}

// Store is a complete backend.
type Store interface {
	Users
	Imports
	Sessions
	Events
	Sockets
	Tickets
	// Ping checks the backend is reachable.
	Ping(ctx context.Context) error
	// CheckWrite commits a tiny write, so that it fails, with ErrUnavailable for a store fault, when the
	// store cannot take writes now (for readiness checks). It changes nothing callers can see.
	CheckWrite(ctx context.Context) error
	Close() error
}

// Backend is a Store that also manages its own schema with the migrate package, as every backend does.
type Backend interface {
	Store
	// DB is a database/sql handle on the backend's database, for tools and server code.
	DB() *sql.DB
	MigrateUp(ctx context.Context) ([]migrate.Migration, error)
	MigrateDown(ctx context.Context, steps int) ([]migrate.Migration, error)
	MigrateStatus(ctx context.Context) ([]migrate.State, error)
}
