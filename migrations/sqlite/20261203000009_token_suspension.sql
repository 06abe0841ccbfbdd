-- A suspended token answers 401 until it is resumed, with the same secret
-- (NULL: not suspended).
ALTER TABLE tokens ADD COLUMN suspended_at BIGINT;
