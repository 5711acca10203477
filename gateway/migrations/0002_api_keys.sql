-- API keys (issue 15): the edge's ext_authz server (gateway/authz.py) checks every
-- request's key against the active rows of this table, held in memory. Only the
-- SHA-256 of a key's secret is stored; the secret is shown once, by CreateApiKey.

CREATE TABLE gateway_api_keys (
    key_id                text PRIMARY KEY,
    prefix                text NOT NULL UNIQUE,      -- "cdb_<8 hex>": shown in lists
    secret_hash           bytea NOT NULL UNIQUE,     -- sha256 of the whole "cdb_<prefix>_<secret>"
    display_name          text NOT NULL DEFAULT '',
    owner                 text NOT NULL,
    tenant                text NOT NULL,
    role                  text NOT NULL CHECK (role IN ('admin', 'user', 'viewer')),
    questions_per_minute  integer NOT NULL DEFAULT 0,  -- 0 = unlimited
    questions_per_day     integer NOT NULL DEFAULT 0,
    training_jobs_per_day integer NOT NULL DEFAULT 0,
    revoked               boolean NOT NULL DEFAULT false,
    request_id            text UNIQUE,               -- CreateApiKey's idempotency key
    create_time           timestamptz NOT NULL DEFAULT now(),
    expire_time           timestamptz,
    revoke_time           timestamptz,
    last_use_time         timestamptz
);
-- ListApiKeys pages newest first by (create_time, key_id).
CREATE INDEX gateway_api_keys_time ON gateway_api_keys (create_time DESC, key_id DESC);
