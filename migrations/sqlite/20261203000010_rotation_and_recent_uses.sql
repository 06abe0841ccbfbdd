-- Rotation you can watch: when a secret replaced by a reset, and still in
-- its grace period, was last used (NULL: not since the latest reset).
ALTER TABLE tokens ADD COLUMN old_secret_last_used_at BIGINT;

-- Where a token was last used from: the latest few distinct client
-- addresses and User-Agents (the flush keeps at most five per token), gone
-- with the token.
CREATE TABLE token_uses (
    token_id   TEXT NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,
    client_ip  TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    used_at    BIGINT NOT NULL,
    PRIMARY KEY (token_id, client_ip, user_agent)
);
