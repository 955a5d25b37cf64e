-- What IVR flows record (issue 4): whether and when the recording notice
-- played and whether the caller opted out of recording, and the callback
-- requests taken (the number to call back is sealed, with its keyed hash).
ALTER TABLE calls ADD COLUMN disclosure_at INTEGER;
ALTER TABLE calls ADD COLUMN recording_opt_out INTEGER NOT NULL DEFAULT 0
    CHECK (recording_opt_out IN (0, 1));

CREATE TABLE callbacks (
    id            INTEGER PRIMARY KEY,
    call_id       TEXT    NOT NULL REFERENCES calls (call_id) ON DELETE CASCADE,
    number        TEXT    NOT NULL,           -- sealed
    number_hash   TEXT    NOT NULL,
    requested_at  INTEGER NOT NULL,
    -- Not before (unix ms): when agents are in again; NULL: as soon as possible.
    not_before    INTEGER,
    -- Which queue / skill the callback goes to (the flow's choice).
    queue         TEXT    NOT NULL DEFAULT '',
    state         TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'dialing', 'done', 'failed', 'cancelled')),
    attempts      INTEGER NOT NULL DEFAULT 0,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX callbacks_pending ON callbacks (not_before) WHERE state = 'pending';
CREATE INDEX callbacks_number ON callbacks (number_hash);
