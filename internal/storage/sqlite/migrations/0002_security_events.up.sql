-- The security event log. user_id and session_id are not foreign keys: events outlive the accounts and
-- sessions they are about. session_id is '' for events about the account as a whole and client_ip is ''
-- for events no client request made, as with the other optional text columns.
-- AUTOINCREMENT keeps ids increasing even after the newest events are deleted, so that an id a reader
-- pages back from is never handed out again.

CREATE TABLE security_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    event_time INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    user_id    TEXT    NOT NULL,
    session_id TEXT    NOT NULL DEFAULT '',
    client_ip  TEXT    NOT NULL DEFAULT '',
    reason     TEXT    NOT NULL DEFAULT ''
) STRICT;

-- ListEvents reads one user's events backwards by id; the retention sweep deletes by time.
CREATE INDEX security_events_user_id_idx ON security_events (user_id, id);
CREATE INDEX security_events_event_time_idx ON security_events (event_time);
