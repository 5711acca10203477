-- The gateway's state in the platform database: conversations, the history of asked
-- questions, the audit trail, feedback and the accepted answers it produced.

CREATE TABLE gateway_conversations (
    conversation_id text PRIMARY KEY,
    principal       text NOT NULL,
    create_time     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway_queries (
    query_id        text PRIMARY KEY,
    question        text NOT NULL,
    normalised      text NOT NULL,
    connection_id   text NOT NULL DEFAULT '',
    conversation_id text NOT NULL DEFAULT '',
    status          smallint NOT NULL,
    intent          integer NOT NULL DEFAULT 0,
    statement       bytea,            -- chatdb.connector.v1.Statement
    parsed          bytea,            -- chatdb.parser.v1.ParsedQuery
    row_count       bigint NOT NULL DEFAULT 0,
    cached          boolean NOT NULL DEFAULT false,
    source          smallint NOT NULL DEFAULT 0,
    reused_query_id text NOT NULL DEFAULT '',
    explanation     text NOT NULL DEFAULT '',
    answer          text NOT NULL DEFAULT '',
    error           bytea,            -- google.rpc.Status, FAILED only
    principal       text NOT NULL,
    api_key_id      text NOT NULL DEFAULT '',
    trace_id        text NOT NULL DEFAULT '',
    parse_s         double precision NOT NULL DEFAULT 0,
    execute_s       double precision NOT NULL DEFAULT 0,
    total_s         double precision NOT NULL DEFAULT 0,
    create_time     timestamptz NOT NULL
);
-- ListQueries pages newest first by (create_time, query_id), filtered by these.
CREATE INDEX gateway_queries_time ON gateway_queries (create_time DESC, query_id DESC);
CREATE INDEX gateway_queries_connection ON gateway_queries (connection_id, create_time DESC);
CREATE INDEX gateway_queries_conversation ON gateway_queries (conversation_id, create_time DESC);
CREATE INDEX gateway_queries_failed ON gateway_queries (create_time DESC) WHERE status = 2;

CREATE TABLE gateway_feedback (
    query_id            text PRIMARY KEY REFERENCES gateway_queries (query_id) ON DELETE CASCADE,
    verdict             smallint NOT NULL,
    corrected_statement bytea,
    comment             text NOT NULL DEFAULT '',
    principal           text NOT NULL,
    create_time         timestamptz NOT NULL DEFAULT now()
);

-- One accepted statement per (connection, normalised question): the latest feedback wins.
CREATE TABLE gateway_accepted (
    connection_id text NOT NULL,
    normalised    text NOT NULL,
    statement     bytea NOT NULL,
    query_id      text NOT NULL,
    embedding     real[] NOT NULL DEFAULT '{}',
    create_time   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (connection_id, normalised)
);

-- Who asked what of which connection, and what ran: append-only.
CREATE TABLE gateway_audit (
    audit_id      bigserial PRIMARY KEY,
    event_time    timestamptz NOT NULL,
    principal     text NOT NULL,
    api_key_id    text NOT NULL DEFAULT '',
    connection_id text NOT NULL DEFAULT '',
    query_id      text NOT NULL,
    question      text NOT NULL,
    statement     text NOT NULL DEFAULT '',
    row_count     bigint NOT NULL DEFAULT 0,
    status        text NOT NULL,
    trace_id      text NOT NULL DEFAULT ''
);
CREATE INDEX gateway_audit_time ON gateway_audit (event_time DESC);
