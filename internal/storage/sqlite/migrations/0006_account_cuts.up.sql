-- Account cuts: logout-all, bans and account deletion end every session of an account with one constant-cost
-- write instead of one revocation per session. Each account has a session generation; a session records the
-- generation it was created in, and its tokens carry it as their gen claim. A cut moves the account to a new
-- generation, which ends every session of an earlier one except session_keep (the caller's own, for a
-- "log out my other sessions"), and appends one feed entry (session_id '', generation, keep_session) that
-- every node applies to its denylist. session_cut_time and session_cut_reason are the latest cut's, which
-- is what a session it ended reports as its revocation.

ALTER TABLE users ADD COLUMN session_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN session_keep TEXT NOT NULL DEFAULT '';
ALTER TABLE users ADD COLUMN session_cut_time INTEGER;
ALTER TABLE users ADD COLUMN session_cut_reason TEXT NOT NULL DEFAULT '';

ALTER TABLE sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

ALTER TABLE session_revocations ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE session_revocations ADD COLUMN keep_session TEXT NOT NULL DEFAULT '';
