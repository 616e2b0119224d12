package sqlite

// Statement ids, one per entry of queries.
const (
	qPing stmtID = iota
	qUserByID
	qUserByDevice
	qUserByEmail
	qUserByCustom
	qUserByApple
	qUserByGoogle
	qUserByGameCenter
	qUserBySteam
	qUserByFacebook
	qUserByFacebookInstantGame
	qUserByUsername
	qUsersByIDs
	qUserExists
	qInsertUser
	qInsertDevice
	qSetDisableTime
	qDeleteUser
	qInsertSession
	qSessionByID
	qSessionExists
	qRefreshSession
	qRevokeSession
	qCutState
	qCutCount
	qCutUser
	qInsertCut
	qRevokeOldestSessions
	qTrimAfterStart
	qRevokeByID
	qInsertRevocation
	qListUserSessions
	qRevocationsSince
	qDeleteExpiredSessions
	qDeleteExpiredRevocations
	qInsertEvent
	qListEvents
	qDeleteEventsBefore
	qAddSocket
	qRemoveSocket
	qUserSockets
	qTouchNode
	qRemoveNodeSockets
	qRemoveNode
	qRemoveDeadNodeSockets
	qRemoveDeadNodes
	qAppendSocketCommand
	qSocketCommandsSince
	qLastSocketCommandSeq
	qDeleteSocketCommandsBefore
	qTicketKeys
	qAddTicketKey
	qDeleteTicketKeysBefore
	qRedeemTicket
	qDeleteRedeemedTicketsBefore
	qStoreID
	qCheckWrite
	qSavepoint
	qReleaseSavepoint
	qRollbackToSavepoint
	numStmts
)

// queries holds every constant statement, prepared on first use by Store.stmt.
var queries = [numStmts]string{
	qPing:                      `SELECT 1`,
	qUserByID:                  `SELECT ` + userColumns + ` FROM users u WHERE u.id = ?`,
	qUserByDevice:              `SELECT ` + userColumns + ` FROM user_device ud JOIN users u ON u.id = ud.user_id WHERE ud.id = ?`,
	qUserByEmail:               userByColumn("email"),
	qUserByCustom:              userByColumn("custom_id"),
	qUserByApple:               userByColumn("apple_id"),
	qUserByGoogle:              userByColumn("google_id"),
	qUserByGameCenter:          userByColumn("gamecenter_id"),
	qUserBySteam:               userByColumn("steam_id"),
	qUserByFacebook:            userByColumn("facebook_id"),
	qUserByFacebookInstantGame: userByColumn("facebook_instant_game_id"),
	qUserByUsername:            `SELECT ` + userColumns + ` FROM users u WHERE u.username = ?`,
	// qUsersByIDs takes two JSON arrays, of ids and of usernames, so that its text does not depend on how
	// many there are. SQLite answers an OR of two IN terms with two index lookups, not a table scan.
	qUsersByIDs: `SELECT ` + userColumns + ` FROM users u
		WHERE u.id IN (SELECT value FROM json_each(?1)) OR u.username IN (SELECT value FROM json_each(?2))`,
	qUserExists: `SELECT 1 FROM users WHERE id = ?`,
	// qInsertUser takes the identity columns in the order of identityColumns, all but one NULL.
	qInsertUser: `INSERT INTO users (id, username, password, create_time, update_time,
			email, custom_id, apple_id, google_id, gamecenter_id, steam_id, facebook_id, facebook_instant_game_id)
		VALUES (?1, ?2, ?3, ?4, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)`,
	qInsertDevice:   `INSERT INTO user_device (id, user_id) VALUES (?, ?)`,
	qSetDisableTime: `UPDATE users SET disable_time = ? WHERE id = ?`,
	// qDeleteUser removes the account's devices and sessions with it (ON DELETE CASCADE); the revocation
	// feed and the event log have no foreign key to it and keep their entries.
	qDeleteUser: `DELETE FROM users WHERE id = ?`,

	// qInsertSession stores the session in its account's current generation, and inserts nothing for an
	// unknown account.
	qInsertSession: `INSERT INTO sessions (id, user_id, create_time, refresh_time, expire_time, vars, user_agent, client_ip, generation)
		SELECT ?1, u.id, ?3, ?4, ?5, ?6, ?7, ?8, u.session_generation FROM users u WHERE u.id = ?2
		RETURNING generation`,
	qSessionByID:   `SELECT ` + sessionCutColumns + ` FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = ?`,
	qSessionExists: `SELECT 1 FROM sessions WHERE id = ?`,
	// The compare-and-swap: it matches only a live session still at the expected seq.
	qRefreshSession: `UPDATE sessions AS s
		SET refresh_seq = refresh_seq + 1, refresh_time = ?1, expire_time = max(expire_time, ?2), vars = ?3
		WHERE id = ?4 AND (?5 < 0 OR refresh_seq = ?5) AND expire_time > ?6
			AND EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id AND ` + uncut + `) AND revoke_time IS NULL
		RETURNING ` + sessionColumns,
	qRevokeSession: `UPDATE sessions AS s SET revoke_time = ?, revoke_reason = ?
		WHERE id = ? AND revoke_time IS NULL AND EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id AND ` + uncut + `)
		RETURNING user_id, expire_time`,
	// qCutState reads the account's generation and kept session, and whether session ?2 is a live session
	// of the account (which a new cut may keep).
	qCutState: `SELECT u.session_generation, u.session_keep, EXISTS (SELECT 1 FROM sessions s
			WHERE s.id = ?2 AND s.user_id = u.id AND s.revoke_time IS NULL AND s.expire_time > ?3 AND ` + uncut + `)
		FROM users u WHERE u.id = ?1`,
	// qCutCount counts the live sessions of account ?1 at ?2 in generation ?3 (with ?4 kept) that a cut
	// keeping ?5 ends, and the latest of their expiry times.
	qCutCount: `SELECT count(*), coalesce(max(s.expire_time), 0) FROM sessions s INDEXED BY sessions_user_idx
		WHERE s.user_id = ?1 AND s.revoke_time IS NULL AND s.expire_time > ?2
			AND (s.generation >= ?3 OR s.id = ?4) AND s.id <> ?5`,
	qCutUser: `UPDATE users SET session_generation = session_generation + 1, session_keep = ?2,
			session_cut_time = ?3, session_cut_reason = ?4
		WHERE id = ?1 RETURNING session_generation`,
	qInsertCut: `INSERT INTO session_revocations (session_id, user_id, expire_time, revoke_time, generation, keep_session)
		VALUES ('', ?, ?, ?, ?, ?) RETURNING seq`,
	// qRevokeOldestSessions skips the newest ?5 live sessions of a user, with ?6 counting as the newest,
	// and revokes the rest. The covering index of the account's sessions spares it their rows.
	qRevokeOldestSessions: `UPDATE sessions SET revoke_time = ?1, revoke_reason = ?2
		WHERE id IN (SELECT s.id FROM sessions s INDEXED BY sessions_user_idx JOIN users u ON u.id = s.user_id
			WHERE s.user_id = ?3 AND s.revoke_time IS NULL AND s.expire_time > ?4 AND ` + uncut + `
			ORDER BY s.id = ?6 DESC, s.create_time DESC, s.id DESC LIMIT -1 OFFSET ?5)
		RETURNING id, expire_time`,
	// qTrimAfterStart finds what qRevokeOldestSessions would revoke for a login that has just stored its
	// session ?6, live and the newest: the account's other live sessions at ?4 beyond the newest ?5 - 1. It
	// only reads (most logins find nothing, and then write nothing more): leaving ?6 out, rather than
	// ordering it first, lets the covering index give the order, and the account's cut state is read once
	// rather than joined to every session. It takes the account ?1, the time ?2, the cap ?3 and the new
	// session ?4.
	qTrimAfterStart: `SELECT s.id, s.expire_time FROM sessions s INDEXED BY sessions_user_idx
		WHERE s.user_id = ?1 AND s.revoke_time IS NULL AND s.expire_time > ?2 AND s.id <> ?4
			AND (s.generation >= (SELECT session_generation FROM users WHERE id = ?1)
				OR s.id = (SELECT session_keep FROM users WHERE id = ?1))
		ORDER BY s.create_time DESC, s.id DESC LIMIT -1 OFFSET ?3 - 1`,
	qRevokeByID: `UPDATE sessions SET revoke_time = ?, revoke_reason = ? WHERE id = ?`,
	qInsertRevocation: `INSERT INTO session_revocations (session_id, user_id, expire_time, revoke_time)
		VALUES (?, ?, ?, ?) RETURNING seq`,
	qListUserSessions: `SELECT ` + sessionCutColumns + ` FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.user_id = ?1 AND s.revoke_time IS NULL AND s.expire_time > ?2 AND ` + uncut + `
			AND (?3 = '' OR s.create_time < ?4 OR (s.create_time = ?4 AND s.id < ?3))
		ORDER BY s.create_time DESC, s.id DESC LIMIT ?5`,
	qRevocationsSince: `SELECT seq, session_id, user_id, expire_time, revoke_time, generation, keep_session
		FROM session_revocations WHERE seq > ? AND expire_time > ? ORDER BY seq LIMIT ?`,
	qDeleteExpiredSessions: `DELETE FROM sessions WHERE rowid IN
		(SELECT rowid FROM sessions WHERE expire_time < ? LIMIT ?)`,
	qDeleteExpiredRevocations: `DELETE FROM session_revocations WHERE seq IN
		(SELECT seq FROM session_revocations WHERE expire_time < ? LIMIT ?)`,

	qInsertEvent: `INSERT INTO security_events (event_time, kind, user_id, session_id, client_ip, reason)
		VALUES (?, ?, ?, ?, ?, ?)`,
	qListEvents: `SELECT id, event_time, kind, user_id, session_id, client_ip, reason FROM security_events
		WHERE user_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
	qDeleteEventsBefore: `DELETE FROM security_events WHERE id IN
		(SELECT id FROM security_events WHERE event_time < ? LIMIT ?)`,

	qAddSocket:    `INSERT INTO sockets (id, user_id, session_id, node, create_time) VALUES (?, ?, ?, ?, ?)`,
	qRemoveSocket: `DELETE FROM sockets WHERE id = ?`,
	qUserSockets: `SELECT s.id, s.user_id, s.session_id, s.node, s.create_time
		FROM sockets s JOIN socket_nodes n ON n.node = s.node
		WHERE s.user_id = ? AND n.seen_time >= ? ORDER BY s.create_time, s.id`,
	qTouchNode: `INSERT INTO socket_nodes (node, seen_time) VALUES (?1, ?2)
		ON CONFLICT (node) DO UPDATE SET seen_time = ?2`,
	qRemoveNodeSockets: `DELETE FROM sockets WHERE node = ?`,
	qRemoveNode:        `DELETE FROM socket_nodes WHERE node = ?`,
	// qRemoveDeadNodeSockets also takes the sockets created before the cut whose node has no row at all: a
	// node removed as dead may have registered them afterwards, and unless it is seen again they would stay
	// forever. A node that registers sockets before its first heartbeat does so after the cut, which spares
	// them.
	qRemoveDeadNodeSockets: `DELETE FROM sockets
		WHERE node IN (SELECT node FROM socket_nodes WHERE seen_time < ?1)
			OR (create_time < ?1 AND node NOT IN (SELECT node FROM socket_nodes))`,
	qRemoveDeadNodes: `DELETE FROM socket_nodes WHERE seen_time < ?`,
	qAppendSocketCommand: `INSERT INTO socket_commands (kind, socket_id, user_id, reason, command_time)
		VALUES (?, ?, ?, ?, ?) RETURNING seq`,
	qSocketCommandsSince: `SELECT seq, kind, socket_id, user_id, reason, command_time FROM socket_commands
		WHERE seq > ? ORDER BY seq LIMIT ?`,
	// sqlite_sequence keeps the highest seq AUTOINCREMENT has handed out, deleted commands included.
	qLastSocketCommandSeq: `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'socket_commands'), 0)`,
	qDeleteSocketCommandsBefore: `DELETE FROM socket_commands WHERE seq IN
		(SELECT seq FROM socket_commands WHERE command_time < ? LIMIT ?)`,

	qTicketKeys: `SELECT id, algorithm, private_key, public_key, create_time FROM ticket_keys
		ORDER BY create_time DESC, id DESC`,
	// qAddTicketKey and qRedeemTicket insert nothing when the id exists, which the caller tells by the
	// count of rows inserted, so that a clash is an answer rather than a constraint error.
	qAddTicketKey: `INSERT INTO ticket_keys (id, algorithm, private_key, public_key, create_time)
		VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
	qDeleteTicketKeysBefore: `DELETE FROM ticket_keys WHERE create_time < ?`,
	qRedeemTicket:           `INSERT INTO redeemed_tickets (id, expire_time) VALUES (?, ?) ON CONFLICT (id) DO NOTHING`,
	qDeleteRedeemedTicketsBefore: `DELETE FROM redeemed_tickets WHERE id IN
		(SELECT id FROM redeemed_tickets WHERE expire_time < ? LIMIT ?)`,

	qStoreID:    `SELECT id FROM store_identity`,
	qCheckWrite: `UPDATE store_identity SET check_time = CAST(unixepoch('subsec') * 1000 AS INTEGER)`,

	// The committer's savepoint around each operation of a batch (see committer).
	qSavepoint:           `SAVEPOINT op`,
	qReleaseSavepoint:    `RELEASE op`,
	qRollbackToSavepoint: `ROLLBACK TO op`,
}
