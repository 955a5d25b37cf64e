-- Quality assurance (issue 6): a durable queue of QA jobs, one per
-- finished recording, and each recording's result. Times are unix ms.

-- A job is stored when a recorded call's file is complete (or repaired
-- after a crash). Workers claim the oldest due job; a failure puts it back
-- with a later next_at until max attempts, then it stays 'failed' with its
-- reason. A 'running' job whose worker died is claimed again.
CREATE TABLE qa_jobs (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    recording   TEXT    NOT NULL UNIQUE,   -- recordings.path
    call_id     TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts    INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_at     INTEGER NOT NULL,          -- due from then on (pending)
    worker      TEXT,                      -- host/pid/n of the last claimer
    started_at  INTEGER,                   -- when the last attempt began
    error       TEXT,                      -- the last failure's reason
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX qa_jobs_due ON qa_jobs (state, next_at);
-- The workers' scan for new recordings looks at the recent ones.
CREATE INDEX recordings_created ON recordings (created_at);

-- One result per recording. `summary` is JSON without personal data
-- (score per category, each item's outcome); `detail` is sealed JSON
-- (evidence words, transcripts, signal figures): what people said is
-- personal data.
CREATE TABLE qa_results (
    recording   TEXT    PRIMARY KEY NOT NULL,
    call_id     TEXT    NOT NULL,
    agent       TEXT,                      -- who answered, when known
    queue       TEXT,
    intent      TEXT,
    call_started_at INTEGER NOT NULL,
    score       REAL    NOT NULL CHECK (score >= 0 AND score <= 100),
    summary     TEXT    NOT NULL,
    detail      TEXT    NOT NULL,
    backend     TEXT    NOT NULL,
    took_ms     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX qa_results_started ON qa_results (call_started_at);
CREATE INDEX qa_results_agent ON qa_results (agent, call_started_at);
