-- When each member last signed in, for the Members page (NULL: never).
ALTER TABLE members ADD COLUMN last_sign_in_at BIGINT;

-- The audit log narrowed to who acted, or to one kind of action, newest
-- first, without reading the whole table.
CREATE INDEX audit_events_by_actor ON audit_events (actor_member_id, occurred_at DESC);
CREATE INDEX audit_events_by_action ON audit_events (action, occurred_at DESC);
