-- Sign-in sessions, shared by every instance. `member_id` is copied out of
-- the record so that removing a member can end all of their sessions.
CREATE TABLE sessions (
    id         TEXT PRIMARY KEY,
    member_id  TEXT,
    data       TEXT NOT NULL,          -- the tower-sessions record, as JSON
    expires_at BIGINT NOT NULL
);

CREATE INDEX sessions_by_member ON sessions (member_id);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Removed members keep their row (the service tokens they created and the
-- audit log still name them) but no longer sign in or count.
ALTER TABLE members ADD COLUMN removed_at BIGINT;

-- The API token an action came through (personal or service), so the log
-- says which token acted even after it is renamed or deleted.
ALTER TABLE audit_events ADD COLUMN actor_token_id TEXT;

-- The log filtered by token also lists the clones made from it.
CREATE INDEX audit_events_by_source ON audit_events (source_token_id, occurred_at DESC);

-- No change log here: PostgreSQL tells every instance what changed with
-- LISTEN/NOTIFY (see src/store/postgres.rs).

-- Other instances read "last used" written since they last looked.
CREATE INDEX tokens_by_last_used ON tokens (last_used_at);
