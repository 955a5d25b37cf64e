-- Why each caller waits (issue 5): the flow's `intent` variable when it
-- set one, else the flow node that put the caller in the queue. The
-- queue figures list the top intents of the callers waiting now and of
-- all who joined in the period. Rows from before this column say ''.
ALTER TABLE queue_calls ADD COLUMN intent TEXT NOT NULL DEFAULT '';
