package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Application names of the watchers' connections, by which they can be found in pg_stat_activity.
const (
	// FeedApplicationName names WatchFeed's connection.
	FeedApplicationName = "latchkey-feed"
	// SocketsApplicationName names WatchSocketCommands' connection.
	SocketsApplicationName = "latchkey-sockets"
)

// Reconnection backoff of the watchers: it starts at minFeedBackoff after a connection that worked, and
// doubles after every failed attempt up to maxFeedBackoff.
const (
	minFeedBackoff = 100 * time.Millisecond
	maxFeedBackoff = 2 * time.Second
)

// feedIdleCheck is how long a watcher waits for a notification before it pings its connection. A LISTEN
// connection only ever reads, so without the ping a server that vanished without closing the socket (a
// network partition, a host that lost power) would leave it waiting until TCP keepalive gives up, minutes
// later, with no wake-ups in the meantime. It is a variable for tests.
var feedIdleCheck = 30 * time.Second

// feedStatementTimeout bounds LISTEN and the idle check's ping, for the same reason.
const feedStatementTimeout = 10 * time.Second

// WatchFeed implements storage.FeedWatcher with LISTEN/NOTIFY. It holds a dedicated connection outside the
// pool, named FeedApplicationName, listening on the feed's channel; every statement that appends to the
// feed notifies the channel, and PostgreSQL delivers the notification when that statement's transaction
// commits. wake runs once as soon as LISTEN has succeeded, so that the caller catches up on whatever it
// missed before or between connections, then once per notification, always on the calling goroutine.
// WatchFeed reconnects after any failure, with a backoff from 100 ms doubling up to 2 s, and returns when
// ctx is done or the store is closed.
func (s *Store) WatchFeed(ctx context.Context, wake func()) {
	s.watch(ctx, feedChannel, FeedApplicationName, wake)
}

// WatchSocketCommands implements storage.SocketFeedWatcher as WatchFeed implements storage.FeedWatcher,
// on a connection of its own named SocketsApplicationName, listening on the socket command feed's channel,
// which every AppendSocketCommand notifies.
func (s *Store) WatchSocketCommands(ctx context.Context, wake func()) {
	s.watch(ctx, socketChannel, SocketsApplicationName, wake)
}

// watch is WatchFeed for any channel: it listens on channel from a connection named applicationName until
// ctx is done or the store is closed, reconnecting with the backoff.
func (s *Store) watch(ctx context.Context, channel, applicationName string, wake func()) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(s.closing, cancel)
	defer stop()

	backoff := minFeedBackoff
	for {
		if s.listen(ctx, channel, applicationName, wake) {
			backoff = minFeedBackoff
		}
		if ctx.Err() != nil {
			return
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, maxFeedBackoff)
	}
}

// listen connects, listens on channel and calls wake until the connection fails or ctx is done. It reports
// whether LISTEN succeeded, which resets the backoff. Errors are not reported: the caller's next poll of
// the feed meets the same failure and reports it, and watch only has to keep trying.
func (s *Store) listen(ctx context.Context, channel, applicationName string, wake func()) (listened bool) {
	cfg := s.pool.Config().ConnConfig // a copy
	cfg.RuntimeParams["application_name"] = applicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false
	}
	defer func() {
		// ctx may be done already; closing only needs long enough to say goodbye to the server.
		closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		conn.Close(closeCtx)
	}()
	listenCtx, cancelListen := context.WithTimeout(ctx, feedStatementTimeout)
	_, err = conn.Exec(listenCtx, "LISTEN "+channel)
	cancelListen()
	if err != nil {
		return false
	}
	wake()
	for {
		waitCtx, cancelWait := context.WithTimeout(ctx, feedIdleCheck)
		_, err := conn.WaitForNotification(waitCtx)
		cancelWait()
		switch {
		case err == nil:
			wake()
		case ctx.Err() != nil:
			return true
		case pgconn.Timeout(err) && !conn.IsClosed():
			// Only the idle check's deadline passed, which leaves the connection usable. A notification that
			// arrives during the ping is kept by pgx for the next WaitForNotification.
			pingCtx, cancelPing := context.WithTimeout(ctx, feedStatementTimeout)
			err := conn.Ping(pingCtx)
			cancelPing()
			if err != nil {
				return true
			}
		default:
			return true
		}
	}
}
