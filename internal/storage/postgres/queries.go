package postgres

// feedChannel is the NOTIFY channel of the revocation feed. Every statement that appends to the feed
// notifies it with the new highest seq as payload; PostgreSQL delivers the notification when the statement's
// transaction commits, and drops it if the transaction rolls back.
const feedChannel = "latchkey_feed"

// socketChannel is the NOTIFY channel of the socket command feed, notified like feedChannel.
const socketChannel = "latchkey_sockets"

// userColumns selects a whole account, its device ids included, so that every lookup is one round trip.
// The devices are sorted in Go rather than in SQL, whose text order depends on the database's collation.
const userColumns = `u.id, u.username, u.display_name, u.avatar_url, u.lang_tag, u.location, u.timezone,
	u.metadata, u.wallet, coalesce(u.email, ''), u.password, coalesce(u.custom_id, ''),
	coalesce(u.apple_id, ''), coalesce(u.google_id, ''), coalesce(u.gamecenter_id, ''), coalesce(u.steam_id, ''),
	coalesce(u.facebook_id, ''), coalesce(u.facebook_instant_game_id, ''),
	u.create_time, u.update_time, u.verify_time, u.disable_time,
	ARRAY(SELECT d.id FROM user_device d WHERE d.user_id = u.id)`

const (
	qUserByID       = `SELECT ` + userColumns + ` FROM users u WHERE u.id = $1`
	qUserByDevice   = `SELECT ` + userColumns + ` FROM user_device ud JOIN users u ON u.id = ud.user_id WHERE ud.id = $1`
	qUserByUsername = `SELECT ` + userColumns + ` FROM users u WHERE u.username = $1`
	qUserExists     = `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`
	// qUsersByIDs can use both the primary key and the username index, one for each side of the OR.
	qUsersByIDs = `SELECT ` + userColumns + ` FROM users u WHERE u.id = ANY ($1::uuid[]) OR u.username = ANY ($2::text[])`

	// qCreateUser inserts the account and, when $13 is not NULL, its device, in one statement and so in one
	// transaction: a unique violation on either insert leaves nothing behind. The device insert reads the
	// account's id from the first insert's RETURNING, which also orders the foreign key check after it.
	// $5 to $12 are the identity columns, in the order of identityColumns; all but one are NULL.
	qCreateUser = `WITH nu AS (
		INSERT INTO users (id, username, password, create_time, update_time,
			email, custom_id, apple_id, google_id, gamecenter_id, steam_id, facebook_id, facebook_instant_game_id)
		VALUES ($1, $2, $3, $4, $4, $5, $6, $7, $8, $9, $10, $11, $12)
		RETURNING id
	)
	INSERT INTO user_device (id, user_id) SELECT $13, nu.id FROM nu WHERE $13::text IS NOT NULL`

	qSetDisableTime = `UPDATE users SET disable_time = $1 WHERE id = $2`
	// qDeleteUser removes the account's devices and sessions with it (ON DELETE CASCADE); the revocation
	// feed and the event log have no foreign key to it and keep their entries.
	qDeleteUser = `DELETE FROM users WHERE id = $1`

	// qLockUser takes the account row's lock that every link, unlink and cut holds (see withLockedUser and
	// qCut). NO KEY UPDATE is the lock an UPDATE of the row takes: it excludes other links, unlinks, cuts
	// and deletions of the account, and the account's share lock that session writes take, but not the
	// foreign key checks of new sessions.
	qLockUser = `SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE`

	// The link and unlink statements take $1 the account id, $2 the identity and $3 the time; linking an
	// email also takes $4, its password hash. Those of the identity columns are built by newIdentityColumn.
	qLinkDevice = `WITH d AS (INSERT INTO user_device (id, user_id) VALUES ($2, $1))
	UPDATE users SET update_time = $3 WHERE id = $1`
	qTouchUser    = `UPDATE users SET update_time = $2 WHERE id = $1`
	qUnlinkDevice = `WITH d AS (DELETE FROM user_device WHERE id = $2 AND user_id = $1)
	UPDATE users SET update_time = $3 WHERE id = $1`
)

// sessionColumns selects a session as scanSession reads it, from sessions aliased s.
const sessionColumns = `s.id, s.user_id, s.create_time, s.refresh_time, s.expire_time, s.revoke_time, s.revoke_reason,
	s.refresh_seq, s.vars, s.user_agent, s.client_ip, s.generation`

// endedByCut holds for a session s that a cut of its account u has ended: one created in an earlier
// generation than the account's, other than the session the latest cut kept. Such a session is revoked for
// every method although its own revoke_time is NULL: a cut writes the account's row, not the sessions'.
const endedByCut = `(s.generation < u.session_generation AND s.id IS DISTINCT FROM u.session_keep)`

// sessionCutColumns is sessionColumns from sessions s joined to their account u, with the revocation of
// the account's latest cut for a session a cut ended.
const sessionCutColumns = `s.id, s.user_id, s.create_time, s.refresh_time, s.expire_time,
	CASE WHEN s.revoke_time IS NULL AND ` + endedByCut + ` THEN u.session_cut_time ELSE s.revoke_time END,
	CASE WHEN s.revoke_time IS NULL AND ` + endedByCut + ` THEN u.session_cut_reason ELSE s.revoke_reason END,
	s.refresh_seq, s.vars, s.user_agent, s.client_ip, s.generation`

// The account's share lock. Every statement that creates, refreshes or revokes sessions starts with a CTE
// u that reads the account's cut state FOR SHARE. The share lock waits for a cut of the account in
// progress, and keeps one from starting, until the statement commits. A locking read returns the row's
// latest committed version, not the statement snapshot's, so a statement that waited for a cut sees the
// generation the cut started, and a cut (see qCut) sees every session such a statement wrote before it.

const (
	// qInsertSession inserts the session in the account's current generation, which it returns, under the
	// account's share lock; it inserts nothing for an unknown account.
	qInsertSession = `WITH u AS (
		SELECT id, session_generation FROM users WHERE id = $2 FOR SHARE
	)
	INSERT INTO sessions (id, user_id, create_time, refresh_time, expire_time, vars, user_agent, client_ip, generation)
	SELECT $1::uuid, u.id, $3::timestamptz, $4::timestamptz, $5::timestamptz, $6::jsonb, $7::text, $8::text,
		u.session_generation
	FROM u
	RETURNING generation`
	qSessionByID = `SELECT ` + sessionCutColumns + ` FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1`
	qSessionExists   = `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1)`
	qListUserSession = `SELECT ` + sessionColumns + ` FROM users u JOIN sessions s ON s.user_id = u.id
		WHERE u.id = $1 AND s.revoke_time IS NULL AND s.expire_time > $2 AND NOT ` + endedByCut + `
			AND ($3::uuid IS NULL OR (s.create_time, s.id) < ($4, $3::uuid))
		ORDER BY s.create_time DESC, s.id DESC LIMIT $5`

	// qRefreshSession is the compare-and-swap: it matches only a live session (unrevoked, not ended by a
	// cut, ExpireTime after the refresh) still at the expected seq, or at any seq when $5 is negative
	// (storage.AnySeq). Concurrent refreshes queue on the row lock, and each re-checks the condition
	// against the row its predecessor committed, so exactly one of them wins a given seq. The account's
	// share lock orders the refresh with cuts: one that commits first ends the session before the refresh
	// reads it, and one that commits later sees the ExpireTime the refresh wrote.
	qRefreshSession = `WITH u AS (
		SELECT id, session_generation, session_keep FROM users
		WHERE id = (SELECT user_id FROM sessions WHERE id = $4) FOR SHARE
	)
	UPDATE sessions s
		SET refresh_seq = s.refresh_seq + 1, refresh_time = $1, expire_time = GREATEST(s.expire_time, $2), vars = $3
		FROM u
		WHERE s.id = $4 AND s.user_id = u.id AND ($5 < 0 OR s.refresh_seq = $5)
			AND s.revoke_time IS NULL AND s.expire_time > $1 AND NOT ` + endedByCut + `
		RETURNING ` + sessionColumns

	// qRevokeSession revokes one session and appends its feed entry in one statement. The counter row is
	// updated (and so locked until commit) only when the session was actually revoked, which makes feed
	// appends commit in seq order: an append that waited for the lock reads the seq its predecessor
	// committed. Revoking an already revoked session, or one a cut ended, returns no row and writes nothing.
	qRevokeSession = `WITH u AS (
		SELECT id, session_generation, session_keep FROM users
		WHERE id = (SELECT user_id FROM sessions WHERE id = $3) FOR SHARE
	), rev AS (
		UPDATE sessions s SET revoke_time = $1, revoke_reason = $2
		FROM u
		WHERE s.id = $3 AND s.user_id = u.id AND s.revoke_time IS NULL AND NOT ` + endedByCut + `
		RETURNING s.id, s.user_id, s.expire_time
	), ctr AS (
		UPDATE latchkey_feed_counter SET seq = seq + 1
		WHERE EXISTS (SELECT 1 FROM rev)
		RETURNING seq, pg_notify('` + feedChannel + `', seq::text)
	), ins AS (
		INSERT INTO session_revocations (seq, session_id, user_id, expire_time, revoke_time)
		SELECT ctr.seq, rev.id, rev.user_id, rev.expire_time, $1 FROM rev CROSS JOIN ctr
	)
	SELECT ctr.seq, rev.user_id, rev.expire_time FROM rev CROSS JOIN ctr`

	// qCut is the account cut of user $1 at $4 for reason $3, keeping session $2 (NULL for none) if it is
	// live. It runs in a READ COMMITTED transaction that holds the account's row lock already (qLockUser),
	// so that its snapshot, taken after the lock was granted, holds every session written under the
	// account's share lock, and none can be written until it commits. It counts
	// the live sessions the cut ends, and when there are any, starts the account's next generation and
	// appends one feed entry, numbered from the counter as qRevokeSession's, whose ExpireTime is the latest
	// of theirs. It reads the live sessions through sessions_user_id_live_idx and writes two rows whatever
	// their number. With nothing to end it returns no row and writes nothing.
	qCut = `WITH u AS (
		SELECT id, session_generation, session_keep FROM users WHERE id = $1
	), keep AS (
		SELECT s.id FROM u JOIN sessions s ON s.user_id = u.id
		WHERE s.id = $2::uuid AND s.revoke_time IS NULL AND s.expire_time > $4 AND NOT ` + endedByCut + `
	), ended AS (
		SELECT count(*) AS n, max(s.expire_time) AS expire_time FROM u JOIN sessions s ON s.user_id = u.id
		WHERE s.revoke_time IS NULL AND s.expire_time > $4 AND NOT ` + endedByCut + `
			AND s.id IS DISTINCT FROM (SELECT id FROM keep)
	), cut AS (
		UPDATE users SET session_generation = session_generation + 1, session_keep = (SELECT id FROM keep),
			session_cut_time = $4, session_cut_reason = $3
		WHERE id = $1 AND (SELECT n FROM ended) > 0
		RETURNING session_generation, session_keep
	), ctr AS (
		UPDATE latchkey_feed_counter SET seq = seq + 1
		WHERE EXISTS (SELECT 1 FROM cut)
		RETURNING seq, pg_notify('` + feedChannel + `', seq::text)
	), ins AS (
		INSERT INTO session_revocations (seq, session_id, user_id, expire_time, revoke_time, generation, keep_session)
		SELECT ctr.seq, NULL, $1, ended.expire_time, $4, cut.session_generation, cut.session_keep
		FROM ctr CROSS JOIN cut CROSS JOIN ended
	)
	SELECT ctr.seq, cut.session_generation, coalesce(cut.session_keep::text, ''), ended.n, ended.expire_time
	FROM ctr CROSS JOIN cut CROSS JOIN ended`

	// qStartSession and qStartSessionCapped are a login's writes (storage.Sessions.StartSession), each in
	// one statement, so in one round trip and one transaction. They take the same arguments: the session as
	// qInsertSession takes it ($1 to $8), the cap $9 (0 for none) and the events $10 to $15 (one array per
	// column, as qAppendEvents takes them); qStartSessionCapped also takes the revoke reason $16 and the cap
	// event: time $17, kind $18 ('' for none), user $19, client IP $20 and reason $21. Both hold the
	// account's share lock from the start, which orders the login with cuts as in qInsertSession, and write
	// nothing for an unknown user (the events wait for the session's insert) or a session id that exists
	// (a unique violation fails the statement).
	//
	// Every part of a statement reads its snapshot, which cannot see the session being inserted, so the
	// new session counts as the newest: the cap keeps the newest $9 - 1 of the others. Under a cap, each
	// runs after qLockUser in the same transaction (Store.sendLocked), so that a login's snapshot holds
	// every login of the account that committed before it and racing logins cannot leave it above its cap.
	//
	// qStartSession is the usual login, one with room under the cap: it counts the account's live sessions
	// (at most $9 of them) and inserts the session and the events only when there are fewer than $9. It
	// returns the session's generation (NULL when it wrote nothing) and whether there was room; no row for
	// an unknown user. A login without room runs qStartSessionCapped instead, which can revoke. Both could
	// be that one statement, but PostgreSQL sets up every node of a plan on every execution, whether the
	// node has rows to process or not, and revoking takes four more tables' worth of nodes: about 70 µs of
	// CPU per login that revokes nothing.
	qStartSession = `WITH u AS (
		SELECT id, session_generation, session_keep FROM users WHERE id = $2 FOR SHARE
	), room AS (
		SELECT $9::int = 0 OR count(*) < $9::int AS ok
		FROM (
			SELECT FROM u JOIN sessions s ON s.user_id = u.id
			WHERE s.revoke_time IS NULL AND s.expire_time > $3 AND NOT ` + endedByCut + `
			LIMIT $9::int
		) live
	), ns AS (
		` + insertStartedSession + ` WHERE (SELECT ok FROM room)
		RETURNING generation
	), ev AS (
		INSERT INTO security_events (event_time, kind, user_id, session_id, client_ip, reason)
		SELECT e.event_time, e.kind, e.user_id::uuid, nullif(e.session_id, '')::uuid, e.client_ip, e.reason
		FROM ` + startedEvents + `
		WHERE EXISTS (SELECT 1 FROM ns)
		ORDER BY e.ord
	)
	SELECT (SELECT generation FROM ns), (SELECT ok FROM room) FROM u`

	// insertStartedSession is qInsertSession's insert, for the start statements' CTE u; they add a
	// condition (or none) and the RETURNING clause.
	insertStartedSession = `INSERT INTO sessions (id, user_id, create_time, refresh_time, expire_time, vars, user_agent,
			client_ip, generation)
		SELECT $1::uuid, u.id, $3::timestamptz, $4::timestamptz, $5::timestamptz, $6::jsonb, $7::text, $8::text,
			u.session_generation
		FROM u`

	// startedEvents is the start statements' events, e, in the order given (e.ord), as qAppendEvents reads
	// them.
	startedEvents = `unnest($10::timestamptz[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])
			WITH ORDINALITY AS e (event_time, kind, user_id, session_id, client_ip, reason, ord)`

	// qRevocationsSince reads cut entries, whose session_id is NULL, with an empty SessionID.
	qRevocationsSince = `SELECT seq, coalesce(session_id::text, ''), user_id, expire_time, revoke_time, generation,
		coalesce(keep_session::text, '')
		FROM session_revocations WHERE seq > $1 AND expire_time > $2 ORDER BY seq LIMIT $3`

	// The sweeps delete in batches so that a large backlog does not hold many row locks, or write a burst of
	// WAL, in one transaction.
	qDeleteExpiredSessions = `DELETE FROM sessions WHERE id IN
		(SELECT id FROM sessions WHERE expire_time < $1 LIMIT $2)`
	qDeleteExpiredRevocations = `DELETE FROM session_revocations WHERE seq IN
		(SELECT seq FROM session_revocations WHERE expire_time < $1 LIMIT $2)`
)

const (
	// qAppendEvents inserts a batch of events, passed as one array per column, in one statement and so in
	// one transaction. Identity values are drawn as the rows leave the sort, so ids follow the order of the
	// arrays. Ids travel as text so that an empty session id can become NULL.
	qAppendEvents = `INSERT INTO security_events (event_time, kind, user_id, session_id, client_ip, reason)
	SELECT e.event_time, e.kind, e.user_id::uuid, nullif(e.session_id, '')::uuid, e.client_ip, e.reason
	FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[])
		WITH ORDINALITY AS e (event_time, kind, user_id, session_id, client_ip, reason, ord)
	ORDER BY e.ord`

	qListEvents = `SELECT id, event_time, kind, user_id, coalesce(session_id::text, ''), client_ip, reason
	FROM security_events WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3`

	qDeleteEventsBefore = `DELETE FROM security_events WHERE id IN
		(SELECT id FROM security_events WHERE event_time < $1 LIMIT $2)`
)

const (
	qAddSocket    = `INSERT INTO sockets (id, user_id, session_id, node, create_time) VALUES ($1, $2, $3, $4, $5)`
	qRemoveSocket = `DELETE FROM sockets WHERE id = $1`
	qUserSockets  = `SELECT s.id, s.user_id, s.session_id, s.node, s.create_time
		FROM sockets s JOIN socket_nodes n ON n.node = s.node
		WHERE s.user_id = $1 AND n.seen_time >= $2 ORDER BY s.create_time, s.id`
	qTouchNode = `INSERT INTO socket_nodes (node, seen_time) VALUES ($1, $2)
		ON CONFLICT (node) DO UPDATE SET seen_time = excluded.seen_time`

	// qRemoveNode deletes the node and its sockets in one statement and counts the sockets.
	qRemoveNode = `WITH n AS (
		DELETE FROM socket_nodes WHERE node = $1
	), s AS (
		DELETE FROM sockets WHERE node = $1 RETURNING 1
	)
	SELECT count(*) FROM s`

	// qRemoveDeadNodes deletes the nodes last seen before $1 and their sockets in one statement, and counts
	// the nodes. It also takes the sockets created before $1 whose node has no row at all: a node removed as
	// dead may have registered them afterwards (or concurrently, which the statement's snapshot cannot
	// see), and unless it is seen again they would stay forever. A node that registers sockets before its
	// first heartbeat does so after the cut, which spares them. Every part of the statement reads the same
	// snapshot, so the NOT EXISTS still sees the nodes being deleted, whose sockets the IN covers.
	qRemoveDeadNodes = `WITH dead AS (
		DELETE FROM socket_nodes WHERE seen_time < $1 RETURNING node
	), gone AS (
		DELETE FROM sockets s
		WHERE s.node IN (SELECT node FROM dead)
			OR (s.create_time < $1 AND NOT EXISTS (SELECT 1 FROM socket_nodes n WHERE n.node = s.node))
	)
	SELECT count(*) FROM dead`

	// qAppendSocketCommand numbers the command from socket_command_counter, whose row lock it holds until
	// commit, so that seq order is commit order (see the migration), and notifies socketChannel. Ids travel
	// as text so that an empty one can become NULL.
	qAppendSocketCommand = `WITH ctr AS (
		UPDATE socket_command_counter SET seq = seq + 1
		RETURNING seq, pg_notify('` + socketChannel + `', seq::text)
	)
	INSERT INTO socket_commands (seq, kind, socket_id, user_id, reason, command_time)
	SELECT ctr.seq, $1::text, nullif($2::text, '')::uuid, nullif($3::text, '')::uuid, $4::text, $5::timestamptz
	FROM ctr
	RETURNING seq`

	qSocketCommandsSince = `SELECT seq, kind, coalesce(socket_id::text, ''), coalesce(user_id::text, ''), reason,
		command_time FROM socket_commands WHERE seq > $1 ORDER BY seq LIMIT $2`
	qLastSocketCommandSeq = `SELECT seq FROM socket_command_counter`

	qDeleteSocketCommandsBefore = `DELETE FROM socket_commands WHERE seq IN
		(SELECT seq FROM socket_commands WHERE command_time < $1 LIMIT $2)`

	qTicketKeys = `SELECT id, algorithm, private_key, public_key, create_time FROM ticket_keys
		ORDER BY create_time DESC, id DESC`
	// qAddTicketKey and qRedeemTicket insert nothing when the id exists, which the caller tells by the
	// count of rows inserted: a clash is an answer, not an error the server logs. Of concurrent inserts of
	// one id, the primary key's index lets exactly one in; the others wait for it to commit, then insert
	// nothing.
	qAddTicketKey = `INSERT INTO ticket_keys (id, algorithm, private_key, public_key, create_time)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING`
	qDeleteTicketKeysBefore      = `DELETE FROM ticket_keys WHERE create_time < $1`
	qRedeemTicket                = `INSERT INTO redeemed_tickets (id, expire_time) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`
	qDeleteRedeemedTicketsBefore = `DELETE FROM redeemed_tickets WHERE id IN
		(SELECT id FROM redeemed_tickets WHERE expire_time < $1 LIMIT $2)`

	qStoreID    = `SELECT id::text FROM store_identity`
	qCheckWrite = `UPDATE store_identity SET check_time = now()`
)

// revokeExcess continues a statement whose CTE excess chose sessions of user `user` to revoke at `at` for
// `reason` (placeholders): it locks them in id order (so that two such statements for one account cannot
// deadlock on each other's rows), revokes those still live, and appends their feed entries, numbered from
// the counter in one step, as the CTE ins (seq, session_id, expire_time).
func revokeExcess(at, reason, user string) string {
	return `target AS (
		SELECT id FROM sessions WHERE id IN (SELECT id FROM excess)
		ORDER BY id
		FOR UPDATE
	), rev AS (
		UPDATE sessions s SET revoke_time = ` + at + `, revoke_reason = ` + reason + `
		FROM target WHERE s.id = target.id AND s.revoke_time IS NULL
		RETURNING s.id, s.expire_time
	), ctr AS (
		UPDATE latchkey_feed_counter SET seq = seq + (SELECT count(*) FROM rev)
		WHERE EXISTS (SELECT 1 FROM rev)
		RETURNING seq, pg_notify('` + feedChannel + `', seq::text)
	), ins AS (
		INSERT INTO session_revocations (seq, session_id, user_id, expire_time, revoke_time)
		SELECT ctr.seq - count(*) OVER () + row_number() OVER (ORDER BY rev.id), rev.id, ` + user + `, rev.expire_time, ` + at + `
		FROM rev CROSS JOIN ctr
		RETURNING seq, session_id, expire_time
	)`
}

// Statements built with revokeExcess, which a constant cannot call.
var (
	// qRevokeOldestSessions revokes every live session of a user beyond the newest $4, with $5 counting as
	// the newest. It holds the account's share lock, so that it counts the
	// sessions as a cut in progress leaves them. The excess is chosen first and then locked in id order, so
	// that two such statements for the same user cannot deadlock on each other's rows.
	qRevokeOldestSessions = `WITH u AS (
		SELECT id, session_generation, session_keep FROM users WHERE id = $3 FOR SHARE
	), excess AS (
		SELECT s.id FROM u JOIN sessions s ON s.user_id = u.id
		WHERE s.revoke_time IS NULL AND s.expire_time > $1 AND NOT ` + endedByCut + `
		ORDER BY s.id = $5::uuid DESC, s.create_time DESC, s.id DESC
		OFFSET $4
	), ` + revokeExcess("$1", "$2", "$3") + `
	SELECT seq, session_id, expire_time FROM ins ORDER BY seq`

	// qStartSessionCapped is the login that revokes: it inserts the session as qStartSession does, revokes
	// the account's oldest live sessions beyond the newest $9 as qRevokeOldestSessions does (at $3, for
	// reason $16), and appends the events, then one cap event per revoked session (when $18 is not ''),
	// with that session's id, in seq order. It returns the session's generation joined to each feed entry
	// it appended (NULLs when none), in seq order; no row for an unknown user. The sessions it ends are
	// locked in id order after the account, and the feed counter last, as everywhere else.
	qStartSessionCapped = `WITH u AS (
		SELECT id, session_generation, session_keep FROM users WHERE id = $2 FOR SHARE
	), ns AS (
		` + insertStartedSession + `
		RETURNING generation
	), excess AS (
		SELECT s.id FROM u JOIN sessions s ON s.user_id = u.id
		WHERE $9::int > 0 AND s.revoke_time IS NULL AND s.expire_time > $3 AND NOT ` + endedByCut + `
		ORDER BY s.create_time DESC, s.id DESC
		OFFSET greatest($9::int - 1, 0)
	), ` + revokeExcess("$3", "$16", "$2") + `, ev AS (
		INSERT INTO security_events (event_time, kind, user_id, session_id, client_ip, reason)
		SELECT e.event_time, e.kind, e.user_id, e.session_id, e.client_ip, e.reason
		FROM (
			SELECT e.event_time, e.kind, e.user_id::uuid AS user_id, nullif(e.session_id, '')::uuid AS session_id,
				e.client_ip, e.reason, 0 AS part, e.ord
			FROM ` + startedEvents + `
			UNION ALL
			SELECT $17::timestamptz, $18::text, $19::uuid, ins.session_id, $20::text, $21::text, 1, ins.seq
			FROM ins WHERE $18::text <> ''
		) e
		WHERE EXISTS (SELECT 1 FROM ns)
		ORDER BY e.part, e.ord
	)
	SELECT ns.generation, ins.seq, ins.session_id::text, ins.expire_time FROM ns LEFT JOIN ins ON true
	ORDER BY ins.seq`
)
