package storage

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/latchkeyhq/latchkey/internal/migrate"
)

// Observer is told of every call made through a Backend that Observe wraps (internal/metrics implements
// it). Operation is asked once per operation, by its method name ("UserByID", "StartSession", ...), for
// the function that then records each call: how long it took, and whether it failed. A call fails when it
// returns an error other than the contract's answers (ErrNotFound, ErrConflict, ErrUsernameTaken,
// ErrIdentityTaken, ErrLastIdentity).
type Observer interface {
	Operation(name string) func(d time.Duration, failed bool)
}

// Observe returns b with every Store call timed and reported to o; with a nil o it returns b itself. The
// result is a FeedWatcher and a SocketFeedWatcher whatever b is: when b is not, those methods return at
// once, which leaves their callers polling, as they do without them.
func Observe(b Backend, o Observer) Backend {
	if o == nil {
		return b
	}
	ob := &observed{b: b}
	for i := range ob.rec {
		ob.rec[i] = o.Operation(opNames[i])
	}
	return ob
}

// The operations, in opNames's order.
const (
	opCreateUser = iota
	opUserByID
	opUserByIdentity
	opUserByUsername
	opUsersByIDs
	opUpdateProfile
	opSetDisableTime
	opLinkIdentity
	opUnlinkIdentity
	opDeleteUser
	opImportUser
	opImportCheckpoint
	opSetImportCheckpoint
	opCreateSession
	opStartSession
	opSessionByID
	opRefreshSession
	opRevokeSession
	opRevokeUserSessions
	opRevokeOldestSessions
	opListUserSessions
	opRevocationsSince
	opDeleteExpiredSessions
	opStoreID
	opAppendEvents
	opListEvents
	opDeleteEventsBefore
	opAddSocket
	opRemoveSocket
	opUserSockets
	opTouchNode
	opRemoveNode
	opRemoveDeadNodes
	opAppendSocketCommand
	opSocketCommandsSince
	opLastSocketCommandSeq
	opDeleteSocketCommandsBefore
	opTicketKeys
	opAddTicketKey
	opDeleteTicketKeysBefore
	opRedeemTicket
	opDeleteRedeemedTicketsBefore
	opPing
	opCheckWrite
	numOps
)

var opNames = [numOps]string{
	"CreateUser", "UserByID", "UserByIdentity", "UserByUsername", "UsersByIDs", "UpdateProfile", "SetDisableTime",
	"LinkIdentity", "UnlinkIdentity", "DeleteUser",
	"ImportUser", "ImportCheckpoint", "SetImportCheckpoint",
	"CreateSession", "StartSession", "SessionByID", "RefreshSession", "RevokeSession",
	"RevokeUserSessions", "RevokeOldestSessions", "ListUserSessions", "RevocationsSince", "DeleteExpiredSessions",
	"StoreID",
	"AppendEvents", "ListEvents", "DeleteEventsBefore",
	"AddSocket", "RemoveSocket", "UserSockets", "TouchNode", "RemoveNode", "RemoveDeadNodes",
	"AppendSocketCommand", "SocketCommandsSince", "LastSocketCommandSeq", "DeleteSocketCommandsBefore",
	"TicketKeys", "AddTicketKey", "DeleteTicketKeysBefore", "RedeemTicket", "DeleteRedeemedTicketsBefore",
	"Ping", "CheckWrite",
}

// observed is a Backend whose calls are timed. Each method defers done, which costs a clock read and the
// recorder's few atomic operations.
type observed struct {
	b   Backend
	rec [numOps]func(time.Duration, bool)
}

func (s *observed) done(op int, start time.Time, err *error) {
	s.rec[op](time.Since(start), failed(*err))
}

// failed reports whether err is a failure rather than one of the contract's answers.
func failed(err error) bool {
	return err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrConflict) &&
		!errors.Is(err, ErrUsernameTaken) && !errors.Is(err, ErrIdentityTaken) && !errors.Is(err, ErrLastIdentity)
}

func (s *observed) CreateUser(ctx context.Context, u NewUser) (_ *User, err error) {
	defer s.done(opCreateUser, time.Now(), &err)
	return s.b.CreateUser(ctx, u)
}

func (s *observed) UserByID(ctx context.Context, id string) (_ *User, err error) {
	defer s.done(opUserByID, time.Now(), &err)
	return s.b.UserByID(ctx, id)
}

func (s *observed) UserByIdentity(ctx context.Context, kind IdentityKind, identity string) (_ *User, err error) {
	defer s.done(opUserByIdentity, time.Now(), &err)
	return s.b.UserByIdentity(ctx, kind, identity)
}

func (s *observed) UserByUsername(ctx context.Context, username string) (_ *User, err error) {
	defer s.done(opUserByUsername, time.Now(), &err)
	return s.b.UserByUsername(ctx, username)
}

func (s *observed) UsersByIDs(ctx context.Context, ids, usernames []string) (_ []User, err error) {
	defer s.done(opUsersByIDs, time.Now(), &err)
	return s.b.UsersByIDs(ctx, ids, usernames)
}

func (s *observed) UpdateProfile(ctx context.Context, id string, p ProfileUpdate) (err error) {
	defer s.done(opUpdateProfile, time.Now(), &err)
	return s.b.UpdateProfile(ctx, id, p)
}

func (s *observed) SetDisableTime(ctx context.Context, id string, t time.Time) (err error) {
	defer s.done(opSetDisableTime, time.Now(), &err)
	return s.b.SetDisableTime(ctx, id, t)
}

func (s *observed) LinkIdentity(ctx context.Context, userID string, kind IdentityKind, identity string, password []byte, at time.Time) (err error) {
	defer s.done(opLinkIdentity, time.Now(), &err)
	return s.b.LinkIdentity(ctx, userID, kind, identity, password, at)
}

func (s *observed) UnlinkIdentity(ctx context.Context, userID string, kind IdentityKind, identity string, at time.Time) (err error) {
	defer s.done(opUnlinkIdentity, time.Now(), &err)
	return s.b.UnlinkIdentity(ctx, userID, kind, identity, at)
}

func (s *observed) DeleteUser(ctx context.Context, id string) (err error) {
	defer s.done(opDeleteUser, time.Now(), &err)
	return s.b.DeleteUser(ctx, id)
}

func (s *observed) ImportUser(ctx context.Context, u ImportedUser) (_ ImportOutcome, err error) {
	defer s.done(opImportUser, time.Now(), &err)
	return s.b.ImportUser(ctx, u)
}

func (s *observed) ImportCheckpoint(ctx context.Context, source string) (_ string, err error) {
	defer s.done(opImportCheckpoint, time.Now(), &err)
	return s.b.ImportCheckpoint(ctx, source)
}

func (s *observed) SetImportCheckpoint(ctx context.Context, source, lastID string) (err error) {
	defer s.done(opSetImportCheckpoint, time.Now(), &err)
	return s.b.SetImportCheckpoint(ctx, source, lastID)
}

func (s *observed) CreateSession(ctx context.Context, sess Session) (_ int64, err error) {
	defer s.done(opCreateSession, time.Now(), &err)
	return s.b.CreateSession(ctx, sess)
}

func (s *observed) StartSession(ctx context.Context, st SessionStart) (_ int64, _ []Revocation, err error) {
	defer s.done(opStartSession, time.Now(), &err)
	return s.b.StartSession(ctx, st)
}

func (s *observed) SessionByID(ctx context.Context, id string) (_ *Session, err error) {
	defer s.done(opSessionByID, time.Now(), &err)
	return s.b.SessionByID(ctx, id)
}

func (s *observed) RefreshSession(ctx context.Context, r SessionRefresh) (_ *Session, err error) {
	defer s.done(opRefreshSession, time.Now(), &err)
	return s.b.RefreshSession(ctx, r)
}

func (s *observed) RevokeSession(ctx context.Context, id, reason string, at time.Time) (_ *Revocation, err error) {
	defer s.done(opRevokeSession, time.Now(), &err)
	return s.b.RevokeSession(ctx, id, reason, at)
}

func (s *observed) RevokeUserSessions(ctx context.Context, userID, keep, reason string, at time.Time) (_ *Revocation, _ int, err error) {
	defer s.done(opRevokeUserSessions, time.Now(), &err)
	return s.b.RevokeUserSessions(ctx, userID, keep, reason, at)
}

func (s *observed) RevokeOldestSessions(ctx context.Context, userID, newest string, keep int, reason string, at time.Time) (_ []Revocation, err error) {
	defer s.done(opRevokeOldestSessions, time.Now(), &err)
	return s.b.RevokeOldestSessions(ctx, userID, newest, keep, reason, at)
}

func (s *observed) ListUserSessions(ctx context.Context, userID string, now time.Time, after SessionCursor, limit int) (_ []Session, err error) {
	defer s.done(opListUserSessions, time.Now(), &err)
	return s.b.ListUserSessions(ctx, userID, now, after, limit)
}

func (s *observed) RevocationsSince(ctx context.Context, after int64, now time.Time, limit int) (_ []Revocation, err error) {
	defer s.done(opRevocationsSince, time.Now(), &err)
	return s.b.RevocationsSince(ctx, after, now, limit)
}

func (s *observed) DeleteExpiredSessions(ctx context.Context, before time.Time) (_ int, err error) {
	defer s.done(opDeleteExpiredSessions, time.Now(), &err)
	return s.b.DeleteExpiredSessions(ctx, before)
}

func (s *observed) StoreID(ctx context.Context) (_ string, err error) {
	defer s.done(opStoreID, time.Now(), &err)
	return s.b.StoreID(ctx)
}

func (s *observed) AppendEvents(ctx context.Context, evs ...Event) (err error) {
	defer s.done(opAppendEvents, time.Now(), &err)
	return s.b.AppendEvents(ctx, evs...)
}

func (s *observed) ListEvents(ctx context.Context, userID string, before int64, limit int) (_ []Event, err error) {
	defer s.done(opListEvents, time.Now(), &err)
	return s.b.ListEvents(ctx, userID, before, limit)
}

func (s *observed) DeleteEventsBefore(ctx context.Context, t time.Time) (_ int, err error) {
	defer s.done(opDeleteEventsBefore, time.Now(), &err)
	return s.b.DeleteEventsBefore(ctx, t)
}

func (s *observed) AddSocket(ctx context.Context, sock Socket) (err error) {
	defer s.done(opAddSocket, time.Now(), &err)
	return s.b.AddSocket(ctx, sock)
}

func (s *observed) RemoveSocket(ctx context.Context, id string) (err error) {
	defer s.done(opRemoveSocket, time.Now(), &err)
	return s.b.RemoveSocket(ctx, id)
}

func (s *observed) UserSockets(ctx context.Context, userID string, aliveSince time.Time) (_ []Socket, err error) {
	defer s.done(opUserSockets, time.Now(), &err)
	return s.b.UserSockets(ctx, userID, aliveSince)
}

func (s *observed) TouchNode(ctx context.Context, node string, t time.Time) (err error) {
	defer s.done(opTouchNode, time.Now(), &err)
	return s.b.TouchNode(ctx, node, t)
}

func (s *observed) RemoveNode(ctx context.Context, node string) (_ int, err error) {
	defer s.done(opRemoveNode, time.Now(), &err)
	return s.b.RemoveNode(ctx, node)
}

func (s *observed) RemoveDeadNodes(ctx context.Context, t time.Time) (_ int, err error) {
	defer s.done(opRemoveDeadNodes, time.Now(), &err)
	return s.b.RemoveDeadNodes(ctx, t)
}

func (s *observed) AppendSocketCommand(ctx context.Context, c SocketCommand) (_ int64, err error) {
	defer s.done(opAppendSocketCommand, time.Now(), &err)
	return s.b.AppendSocketCommand(ctx, c)
}

func (s *observed) SocketCommandsSince(ctx context.Context, after int64, limit int) (_ []SocketCommand, err error) {
	defer s.done(opSocketCommandsSince, time.Now(), &err)
	return s.b.SocketCommandsSince(ctx, after, limit)
}

func (s *observed) LastSocketCommandSeq(ctx context.Context) (_ int64, err error) {
	defer s.done(opLastSocketCommandSeq, time.Now(), &err)
	return s.b.LastSocketCommandSeq(ctx)
}

func (s *observed) DeleteSocketCommandsBefore(ctx context.Context, t time.Time) (_ int, err error) {
	defer s.done(opDeleteSocketCommandsBefore, time.Now(), &err)
	return s.b.DeleteSocketCommandsBefore(ctx, t)
}

func (s *observed) TicketKeys(ctx context.Context) (_ []TicketKey, err error) {
	defer s.done(opTicketKeys, time.Now(), &err)
	return s.b.TicketKeys(ctx)
}

func (s *observed) AddTicketKey(ctx context.Context, k TicketKey) (err error) {
	defer s.done(opAddTicketKey, time.Now(), &err)
	return s.b.AddTicketKey(ctx, k)
}

func (s *observed) DeleteTicketKeysBefore(ctx context.Context, t time.Time) (_ int, err error) {
	defer s.done(opDeleteTicketKeysBefore, time.Now(), &err)
	return s.b.DeleteTicketKeysBefore(ctx, t)
}

func (s *observed) RedeemTicket(ctx context.Context, id string, expire time.Time) (err error) {
	defer s.done(opRedeemTicket, time.Now(), &err)
	return s.b.RedeemTicket(ctx, id, expire)
}

func (s *observed) DeleteRedeemedTicketsBefore(ctx context.Context, t time.Time) (_ int, err error) {
	defer s.done(opDeleteRedeemedTicketsBefore, time.Now(), &err)
	return s.b.DeleteRedeemedTicketsBefore(ctx, t)
}

func (s *observed) Ping(ctx context.Context) (err error) {
	defer s.done(opPing, time.Now(), &err)
	return s.b.Ping(ctx)
}

func (s *observed) CheckWrite(ctx context.Context) (err error) {
	defer s.done(opCheckWrite, time.Now(), &err)
	return s.b.CheckWrite(ctx)
}

// The rest are not store calls a request makes: they pass through untimed.

func (s *observed) Close() error { return s.b.Close() }
func (s *observed) DB() *sql.DB  { return s.b.DB() }

func (s *observed) MigrateUp(ctx context.Context) ([]migrate.Migration, error) {
	return s.b.MigrateUp(ctx)
}

func (s *observed) MigrateDown(ctx context.Context, steps int) ([]migrate.Migration, error) {
	return s.b.MigrateDown(ctx, steps)
}

func (s *observed) MigrateStatus(ctx context.Context) ([]migrate.State, error) {
	return s.b.MigrateStatus(ctx)
}

// WatchFeed is b's, or returns at once when b has none.
func (s *observed) WatchFeed(ctx context.Context, wake func()) {
	if w, ok := s.b.(FeedWatcher); ok {
		w.WatchFeed(ctx, wake)
	}
}

// WatchSocketCommands is b's, or returns at once when b has none.
func (s *observed) WatchSocketCommands(ctx context.Context, wake func()) {
	if w, ok := s.b.(SocketFeedWatcher); ok {
		w.WatchSocketCommands(ctx, wake)
	}
}

var (
	_ Backend           = (*observed)(nil)
	_ FeedWatcher       = (*observed)(nil)
	_ SocketFeedWatcher = (*observed)(nil)
)
