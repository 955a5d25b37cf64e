-- The ACD's agents: each agent's current state (what a restart starts
-- from) and every transition with its time (issue 5). Agent ids are
-- extensions, not personal data; reasons are break codes.
CREATE TABLE agent_states (
    agent   TEXT    PRIMARY KEY,
    state   TEXT    NOT NULL,
    reason  TEXT    NOT NULL DEFAULT '',
    since   INTEGER NOT NULL
);

CREATE TABLE agent_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    agent       TEXT    NOT NULL,
    from_state  TEXT    NOT NULL,
    to_state    TEXT    NOT NULL,
    reason      TEXT    NOT NULL DEFAULT '',
    at          INTEGER NOT NULL
);
CREATE INDEX agent_events_by_agent ON agent_events (agent, at);
