-- Connections to the databases users ask questions of (ConnectorService).
-- `dsn` is the masked DSN that responses show; the real target with its password lives
-- only in `secret_dsn` ("fernet:<token>" when CHATDB_CONNECTOR_SECRETS_KEY is set,
-- "plain:<dsn>" otherwise) and never leaves the connector.
CREATE TABLE connector_connections (
    connection_id  text        PRIMARY KEY
                               CHECK (connection_id ~ '^[a-z][a-z0-9-]{0,62}$'),
    display_name   text        NOT NULL DEFAULT '',
    kind           text        NOT NULL CHECK (kind IN ('postgres', 'mysql', 'mongodb')),
    dsn            text        NOT NULL,
    secret_dsn     text        NOT NULL,
    host           text        NOT NULL DEFAULT '',
    port           integer     NOT NULL DEFAULT 0,
    username       text        NOT NULL DEFAULT '',
    database_name  text        NOT NULL DEFAULT '',
    has_password   boolean     NOT NULL DEFAULT false,
    read_only      boolean     NOT NULL DEFAULT true,
    options        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    -- Idempotency key of the create that made this row (AIP-155); NULL when none given.
    request_id     text        UNIQUE,
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX connector_connections_kind_idx ON connector_connections (kind, connection_id);
