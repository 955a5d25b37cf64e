-- State changes an admin asked for with `switchboard agent ID ...`,
-- waiting for the running switch (told by SIGHUP, or at its next start)
-- to apply them; removed once applied.
CREATE TABLE agent_requests (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    agent     TEXT    NOT NULL,
    request   TEXT    NOT NULL,
    reason    TEXT    NOT NULL DEFAULT '',
    asked_at  INTEGER NOT NULL
);
