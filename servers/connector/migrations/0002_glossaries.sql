-- A connection's glossary (SetGlossary / GetGlossary): its metrics, segments, synonyms
-- and relationships as the connector validated them, in the YAML file's shape
-- (servers/contracts/glossary.py). One row per connection at most; deleting the
-- connection deletes it. No row means an empty glossary.
CREATE TABLE connector_glossaries (
    connection_id  text        PRIMARY KEY
                               REFERENCES connector_connections (connection_id) ON DELETE CASCADE,
    -- json, not jsonb: the order of the synonyms is the user's and is kept
    content        json        NOT NULL,
    -- content_version(content): a hash, so readers key caches on it
    version        text        NOT NULL,
    update_time    timestamptz NOT NULL DEFAULT now()
);
