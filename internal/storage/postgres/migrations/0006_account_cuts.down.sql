-- Going back to one revocation per session: the sessions a cut ended are stamped revoked with the account's
-- latest cut, so that they stay ended, and get a feed entry each, numbered from the counter as any append
-- is; the cut entries then leave the feed. Tokens of those sessions that a node denied by the cut alone are
-- denied again once their sessions' own entries are read.
WITH ended AS (
    UPDATE sessions s SET revoke_time = u.session_cut_time, revoke_reason = u.session_cut_reason
    FROM users u
    WHERE u.id = s.user_id AND s.revoke_time IS NULL
        AND s.generation < u.session_generation AND s.id IS DISTINCT FROM u.session_keep
    RETURNING s.id, s.user_id, s.expire_time, s.revoke_time
), ctr AS (
    UPDATE latchkey_feed_counter SET seq = seq + (SELECT count(*) FROM ended)
    RETURNING seq
)
INSERT INTO session_revocations (seq, session_id, user_id, expire_time, revoke_time)
SELECT ctr.seq - count(*) OVER () + row_number() OVER (ORDER BY ended.id),
    ended.id, ended.user_id, ended.expire_time, ended.revoke_time
FROM ended CROSS JOIN ctr;

DELETE FROM session_revocations WHERE session_id IS NULL;

ALTER TABLE session_revocations
    DROP CONSTRAINT session_revocations_cut_check,
    DROP COLUMN keep_session,
    DROP COLUMN generation,
    ALTER COLUMN session_id SET NOT NULL;

ALTER TABLE sessions DROP COLUMN generation;

ALTER TABLE users
    DROP COLUMN session_cut_reason,
    DROP COLUMN session_cut_time,
    DROP COLUMN session_keep,
    DROP COLUMN session_generation;
