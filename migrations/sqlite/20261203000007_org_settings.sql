-- The organization's settings: exactly one row (id = 1), created here, so
-- every write reads and locks the same row.
--
-- max_token_lifetime_days: the longest a new token may live (create, clone,
-- or a new expiry on edit); NULL is no limit.
CREATE TABLE org_settings (
    id                      INTEGER PRIMARY KEY CHECK (id = 1),
    max_token_lifetime_days BIGINT CHECK (max_token_lifetime_days IS NULL OR max_token_lifetime_days > 0),
    updated_at              BIGINT NOT NULL
);

INSERT INTO org_settings (id, max_token_lifetime_days, updated_at) VALUES (1, NULL, 0);
