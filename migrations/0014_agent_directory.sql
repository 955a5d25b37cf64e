-- Agents kept in the database (issue 5), besides contact-center/agents.toml:
-- imported by an admin now, written by the HTTP API later. An agent here
-- with the id of one in the file replaces it. The name is personal data
-- (sealed); skills are a JSON object of skill name to proficiency (1-10).
CREATE TABLE agent_directory (
    id          TEXT    PRIMARY KEY,
    name        TEXT    NOT NULL,
    team        TEXT    NOT NULL DEFAULT '',
    skills      TEXT    NOT NULL DEFAULT '{}',
    updated_at  INTEGER NOT NULL
);
