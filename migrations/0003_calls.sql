-- Call detail records, their per-leg media quality, a journal of events
-- per call, and one row per recording file. Times are unix milliseconds.

-- One row per inbound call, keyed by the caller's SIP Call-ID. A row with
-- no end time is a call in progress (or one the switch was running when
-- it died: closed as 'interrupted' at the next start).
CREATE TABLE calls (
    call_id          TEXT    PRIMARY KEY NOT NULL,
    profile          TEXT    NOT NULL,
    -- personal data: written only by Store::insert_call, read only by
    -- the CDR row mapping in src/store/calls.rs
    caller           TEXT    NOT NULL,
    callee           TEXT    NOT NULL,
    started_at       INTEGER NOT NULL,
    answered_at      INTEGER,
    agent            TEXT,              -- who answered (agent AOR)
    agent_call_id    TEXT,              -- the agent leg's SIP Call-ID
    ended_at         INTEGER,
    -- latest time the call was known alive: start, answer, events,
    -- touches. The end time of an interrupted call.
    last_activity_at INTEGER NOT NULL,
    disposition      TEXT CHECK (disposition IN
                        ('answered', 'busy', 'no-answer', 'failed', 'cancelled', 'interrupted')),
    hangup_by        TEXT CHECK (hangup_by IN ('caller', 'agent', 'switch')),
    cause            TEXT,              -- free text: "BYE", "media timeout", "486 Busy Here"
    sip_status       INTEGER CHECK (sip_status BETWEEN 100 AND 699),
    -- ended and disposed go together
    CHECK ((ended_at IS NULL) = (disposition IS NULL)),
    CHECK ((ended_at IS NULL) = (hangup_by IS NULL)),
    CHECK (answered_at IS NULL OR answered_at >= started_at),
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE INDEX calls_started ON calls (started_at);
-- the calls still open: what close_interrupted_calls scans at start
CREATE INDEX calls_open ON calls (call_id) WHERE ended_at IS NULL;

-- Media quality per leg, written when the call ends.
-- leg 0: caller (trunk side), leg 1: agent.
CREATE TABLE call_legs (
    call_id          TEXT    NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    leg              INTEGER NOT NULL CHECK (leg IN (0, 1)),
    codec            TEXT    NOT NULL,  -- "PCMU", "PCMA", "opus", ...
    packets_received INTEGER NOT NULL CHECK (packets_received >= 0),
    packets_lost     INTEGER NOT NULL,  -- RTCP cumulative loss: may be negative
    loss_pct         REAL    NOT NULL CHECK (loss_pct >= 0 AND loss_pct <= 100),
    jitter_ms        REAL    NOT NULL CHECK (jitter_ms >= 0),
    rtt_ms           REAL    CHECK (rtt_ms >= 0),
    PRIMARY KEY (call_id, leg)
) WITHOUT ROWID;

-- Journal of what happened during a call (DTMF digits, hold, ...).
-- The kind is a lowercase identifier; the set of kinds is checked by the
-- code, so adding one needs no migration.
CREATE TABLE call_events (
    id       INTEGER PRIMARY KEY,
    call_id  TEXT    NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    at       INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind <> '' AND kind NOT GLOB '*[^a-z_]*'),
    detail   TEXT    NOT NULL
);
CREATE INDEX call_events_call ON call_events (call_id, at, id);

-- One row per recording file. The path is the reference a CDR carries.
-- No cascade from calls: a recording row goes with its file, on purpose.
CREATE TABLE recordings (
    path         TEXT    PRIMARY KEY NOT NULL,
    call_id      TEXT    NOT NULL REFERENCES calls (call_id),
    channels     INTEGER NOT NULL CHECK (channels IN (1, 2)),
    sample_rate  INTEGER NOT NULL CHECK (sample_rate > 0),
    duration_ms  INTEGER CHECK (duration_ms >= 0),   -- NULL while recording
    consent      INTEGER NOT NULL DEFAULT 1 CHECK (consent IN (0, 1)),
    state        TEXT    NOT NULL DEFAULT 'recording'
                     CHECK (state IN ('recording', 'complete', 'repaired')),
    created_at   INTEGER NOT NULL,
    CHECK ((state = 'recording') = (duration_ms IS NULL))
);
CREATE INDEX recordings_call ON recordings (call_id, created_at);
-- files still being written: repaired at start
CREATE INDEX recordings_open ON recordings (created_at) WHERE state = 'recording';
