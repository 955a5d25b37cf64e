-- Personal data at rest (issue 4): callers' numbers and the journal's
-- details are stored sealed (AES-256-GCM, see src/store/pii.rs); a keyed
-- hash of the caller's number lets calls be found by number. Rows written
-- before are sealed by the switch when it opens the database.
ALTER TABLE calls ADD COLUMN caller_hash TEXT;
CREATE INDEX calls_caller_hash ON calls (caller_hash);
