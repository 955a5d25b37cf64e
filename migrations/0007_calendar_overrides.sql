-- Calendars an admin forced open (1) or closed (0) with `switchboard
-- calendar`, until set back to `auto` (the row is removed). The running
-- switch applies them at start and on every reload.
CREATE TABLE calendar_overrides (
    name    TEXT    PRIMARY KEY,
    open    INTEGER NOT NULL CHECK (open IN (0, 1)),
    set_at  INTEGER NOT NULL
);
