-- The post-call survey (issue 5): the caller's rating of the call, 1 to 5,
-- keyed after the agent hung up; NULL when no survey ran or no key came.
ALTER TABLE calls ADD COLUMN csat INTEGER CHECK (csat BETWEEN 1 AND 5);
