-- Access tokens. Secrets live in their own table so a reset can keep the old
-- secret working for a grace period next to the new one.

CREATE TABLE tokens (
    id           TEXT PRIMARY KEY,
    -- "C" collation: the list is ordered byte by byte, as on SQLite, not by
    -- whatever locale the server was initialised with.
    name         TEXT NOT NULL,
    name_search  TEXT COLLATE "C" NOT NULL,  -- lowercase name, for portable case-insensitive search
    description  TEXT NOT NULL DEFAULT '',
    role         TEXT NOT NULL CHECK (role IN ('reader', 'writer', 'admin')),
    kind         TEXT NOT NULL CHECK (kind IN ('personal', 'service')),
    member_id    TEXT NOT NULL REFERENCES members (id),  -- owner; for service tokens, the creator
    api_version  BIGINT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at   BIGINT,
    last_four    TEXT NOT NULL,
    version      BIGINT NOT NULL DEFAULT 1  -- bumped on every change: optimistic concurrency
);

CREATE INDEX tokens_by_name ON tokens (name_search, created_at, id);
CREATE INDEX tokens_by_member ON tokens (member_id, name_search);

-- SHA-256 digests only. `valid_until` is NULL for the current secret and set
-- for a replaced one that still works until then.
CREATE TABLE token_secrets (
    digest      TEXT PRIMARY KEY,
    token_id    TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    valid_until BIGINT,
    created_at  BIGINT NOT NULL
);

CREATE INDEX token_secrets_by_token ON token_secrets (token_id);
