-- Every caller's stay in an ACD queue (issue 5): when they joined, whether
-- and when an agent answered, when it ended and how. The queue statistics
-- (offered, answered, abandoned, service level, ASA, AHT) are computed
-- from these rows; rows left open by a crash are closed at the next start.
CREATE TABLE queue_calls (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    call_id      TEXT    NOT NULL,
    queue        TEXT    NOT NULL,
    priority     INTEGER NOT NULL,
    joined_at    INTEGER NOT NULL,
    answered_at  INTEGER,
    agent        TEXT,
    ended_at     INTEGER,
    -- waiting, answered, abandoned, overflowed, timed_out, interrupted
    outcome      TEXT    NOT NULL,
    -- the queue's wrap-up after this call, in ms
    wrap_up_ms   INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX queue_calls_by_queue ON queue_calls (queue, joined_at);
