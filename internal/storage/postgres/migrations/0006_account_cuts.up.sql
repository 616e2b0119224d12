-- Account cuts, as in the SQLite schema: logout-all, bans and account deletion end every session of an
-- account with one constant-cost write instead of one revocation per session. Each account has a session
-- generation; a session records the generation it was created in, and its tokens carry it as their gen
-- claim. A cut moves the account to a new generation, which ends every session of an earlier one except
-- session_keep (the caller's own, for a "log out my other sessions"; NULL when none), and appends one feed
-- entry that every node applies to its denylist: session_id NULL, the new generation and keep_session.
-- session_cut_time and session_cut_reason are the latest cut's, which is what a session it ended reports as
-- its revocation. Single-session entries keep generation 0 and keep_session NULL.
--
-- Constant defaults add the columns without rewriting the tables; the CHECK reads session_revocations once.

ALTER TABLE users
    ADD COLUMN session_generation BIGINT      NOT NULL DEFAULT 0,
    ADD COLUMN session_keep       UUID,
    ADD COLUMN session_cut_time   TIMESTAMPTZ,
    ADD COLUMN session_cut_reason TEXT        NOT NULL DEFAULT '';

ALTER TABLE sessions ADD COLUMN generation BIGINT NOT NULL DEFAULT 0;

ALTER TABLE session_revocations
    ALTER COLUMN session_id DROP NOT NULL,
    ADD COLUMN generation   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN keep_session UUID,
    ADD CONSTRAINT session_revocations_cut_check CHECK ((session_id IS NULL) = (generation > 0));
