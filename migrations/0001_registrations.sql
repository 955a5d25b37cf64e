-- Registrar bindings (RFC 3261 section 10): one row per contact of an
-- address of record, kept so a restart does not forget registered phones.
CREATE TABLE registrations (
    profile      TEXT    NOT NULL,
    aor          TEXT    NOT NULL,
    contact      TEXT    NOT NULL,
    -- where the REGISTER came from: "udp:127.0.0.1:5062"
    source       TEXT    NOT NULL,
    call_id      TEXT    NOT NULL,
    cseq         INTEGER NOT NULL,
    q            REAL,
    user_agent   TEXT,
    expires_at   INTEGER NOT NULL, -- unix seconds
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (profile, aor, contact)
);
CREATE INDEX registrations_expiry ON registrations (expires_at);
