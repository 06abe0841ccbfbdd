-- The same schema as migrations/sqlite, in PostgreSQL's words: TEXT ids,
-- BIGINT Unix-millisecond times, an identity column where SQLite relies on
-- its rowid.

CREATE TABLE members (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,   -- normalized: trimmed, lowercase
    role          TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'writer', 'reader', 'no_access')),
    password_hash TEXT NOT NULL,          -- Argon2id, PHC string
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Events outlive the members and tokens they mention, so there are no
-- foreign keys here: the names are copied at the time of the event.
CREATE TABLE audit_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at     BIGINT NOT NULL,
    action          TEXT NOT NULL,
    actor_member_id TEXT,
    actor_email     TEXT,
    token_id        TEXT,
    token_name      TEXT,
    source_token_id TEXT,
    client_ip       TEXT,
    detail          TEXT
);

CREATE INDEX audit_events_newest ON audit_events (occurred_at DESC, id DESC);
CREATE INDEX audit_events_by_token ON audit_events (token_id, occurred_at DESC);
