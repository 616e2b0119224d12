-- Going back to one revocation per session: the sessions a cut ended are stamped revoked, so that they stay
-- ended, and the cut entries leave the feed. Tokens of those sessions that a node denied by the cut alone
-- are denied again once their sessions' own entries are written here.
UPDATE sessions SET revoke_time = (SELECT coalesce(u.session_cut_time, 0) FROM users u WHERE u.id = sessions.user_id),
    revoke_reason = (SELECT u.session_cut_reason FROM users u WHERE u.id = sessions.user_id)
WHERE revoke_time IS NULL AND EXISTS (SELECT 1 FROM users u WHERE u.id = sessions.user_id
    AND sessions.generation < u.session_generation AND sessions.id <> u.session_keep);

INSERT INTO session_revocations (session_id, user_id, expire_time, revoke_time)
SELECT s.id, s.user_id, s.expire_time, s.revoke_time FROM sessions s
WHERE s.revoke_time IS NOT NULL AND s.generation < (SELECT u.session_generation FROM users u WHERE u.id = s.user_id)
    AND NOT EXISTS (SELECT 1 FROM session_revocations r WHERE r.session_id = s.id);

DELETE FROM session_revocations WHERE session_id = '';

ALTER TABLE session_revocations DROP COLUMN keep_session;
ALTER TABLE session_revocations DROP COLUMN generation;
ALTER TABLE sessions DROP COLUMN generation;
ALTER TABLE users DROP COLUMN session_cut_reason;
ALTER TABLE users DROP COLUMN session_cut_time;
ALTER TABLE users DROP COLUMN session_keep;
ALTER TABLE users DROP COLUMN session_generation;
