-- Live status of trunk peers: OPTIONS keep-alive ("qualify") and outbound
-- registration to carriers. One row per (profile, kind, target), updated
-- on every change, read by `switchboard status`.
CREATE TABLE trunk_status (
    profile     TEXT    NOT NULL,
    kind        TEXT    NOT NULL,   -- 'qualify' or 'registration'
    target      TEXT    NOT NULL,   -- peer or registrar URI
    state       TEXT    NOT NULL,   -- up, down, registered, failed, trying
    detail      TEXT    NOT NULL,   -- last status line or error, latency
    updated_at  INTEGER NOT NULL,   -- unix seconds
    PRIMARY KEY (profile, kind, target)
);
