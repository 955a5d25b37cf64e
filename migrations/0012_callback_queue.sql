-- Callbacks through the ACD (issue 5): a request keeps the caller's place
-- in line (`place_since`, unix ms, and the queue priority) and remembers
-- what the dialer needs to call back: the trunk the caller came in on, the
-- number to show them (the one they had called), the calendar whose opening
-- hours a night-time request waits for, and the caller's context for the
-- agent's phone (sealed: it holds the customer's name). Each attempt's
-- agent and outcome are kept on the row. 'dialing' rows left by a crash
-- are pending again at the next start.
ALTER TABLE callbacks ADD COLUMN place_since INTEGER;
ALTER TABLE callbacks ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE callbacks ADD COLUMN trunk TEXT NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN present_as TEXT NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN calendar TEXT NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN context TEXT NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN agent TEXT NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN outcome TEXT NOT NULL DEFAULT '';
