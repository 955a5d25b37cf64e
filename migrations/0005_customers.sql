-- Customers (issue 4): who a caller is. Personal fields are sealed
-- (AES-256-GCM, src/store/pii.rs); `number_hash`, the keyed hash of the
-- caller's number in E.164, finds a customer by the number that calls.
CREATE TABLE customers (
    id           INTEGER PRIMARY KEY,
    number_hash  TEXT    NOT NULL UNIQUE,
    number       TEXT    NOT NULL,           -- sealed
    name         TEXT    NOT NULL,           -- sealed
    email        TEXT    NOT NULL DEFAULT '', -- sealed when not empty
    -- Service tier ('VIP', 'standard'...) and segment: routing, not identity.
    tier         TEXT    NOT NULL DEFAULT 'standard',
    segment      TEXT    NOT NULL DEFAULT '',
    -- Prompt language: 'en', 'zh'...
    language     TEXT    NOT NULL DEFAULT 'en',
    -- The agent who owns the account (an agent sees only their customers).
    agent        TEXT    NOT NULL DEFAULT '',
    updated_at   INTEGER NOT NULL
);
