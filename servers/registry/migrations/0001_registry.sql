-- Model registry (ModelRegistryService): models, their immutable versions, aliases, and
-- one registry-wide sequence of events. Artifacts themselves live in the
-- content-addressed artifact store; rows only point at them by sha256.

CREATE TABLE registry_models (
    -- COLLATE "C": names sort bytewise, so keyset paging is the same on every server.
    name            text        COLLATE "C" PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9-]{0,62}$'),
    description     text        NOT NULL DEFAULT '',
    -- Highest version number; the create transaction takes this row FOR UPDATE and
    -- allocates latest_version + 1, so numbers are dense and race-free per model.
    latest_version  bigint      NOT NULL DEFAULT 0 CHECK (latest_version >= 0),
    create_time     timestamptz NOT NULL DEFAULT now(),
    update_time     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE registry_model_versions (
    model                text        COLLATE "C" NOT NULL REFERENCES registry_models (name),
    version              bigint      NOT NULL CHECK (version >= 1),
    state                text        NOT NULL DEFAULT 'ready' CHECK (state IN ('ready', 'archived')),
    artifact_sha256      text        NOT NULL CHECK (artifact_sha256 ~ '^[0-9a-f]{64}$'),
    artifact_size_bytes  bigint      NOT NULL CHECK (artifact_size_bytes >= 0),
    artifact_format      text        NOT NULL DEFAULT 'onnx',
    artifact_uri         text        NOT NULL,
    -- TensorSpec lists: [{"name": ..., "datatype": ..., "shape": [...]}, ...]
    inputs               jsonb       NOT NULL DEFAULT '[]'::jsonb,
    outputs              jsonb       NOT NULL DEFAULT '[]'::jsonb,
    -- Metrics as parallel arrays: float8 keeps NaN/Infinity, which jsonb cannot hold.
    metric_names         text[]      NOT NULL DEFAULT '{}',
    metric_values        float8[]    NOT NULL DEFAULT '{}',
    dataset_fingerprint  text        NOT NULL DEFAULT '',
    library_versions     jsonb       NOT NULL DEFAULT '{}'::jsonb,
    training_job_id      text        NOT NULL DEFAULT '',
    task                 text        NOT NULL DEFAULT '',
    description          text        NOT NULL DEFAULT '',
    -- Idempotency key of the upload that made this version; NULL when none was given.
    request_id           text,
    create_time          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, version),
    UNIQUE (model, request_id),
    CHECK (cardinality(metric_names) = cardinality(metric_values))
);

CREATE INDEX registry_model_versions_sha256_idx ON registry_model_versions (artifact_sha256);
CREATE INDEX registry_model_versions_job_idx ON registry_model_versions (training_job_id)
    WHERE training_job_id <> '';

CREATE TABLE registry_aliases (
    model        text        COLLATE "C" NOT NULL REFERENCES registry_models (name),
    alias        text        COLLATE "C" NOT NULL CHECK (alias ~ '^[a-z][a-z0-9-]{0,62}$'),
    version      bigint      NOT NULL,
    update_time  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model, alias),
    FOREIGN KEY (model, version) REFERENCES registry_model_versions (model, version)
);

-- The one event counter. Every transaction that writes events increments this single
-- row; its row lock, held until commit, serialises event writers so sequence numbers
-- become visible in order and without gaps (see servers/registry/store.py).
CREATE TABLE registry_event_counter (
    id             boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_sequence  bigint  NOT NULL CHECK (last_sequence >= 0)
);
INSERT INTO registry_event_counter (id, last_sequence) VALUES (true, 0);

CREATE TABLE registry_events (
    sequence          bigint      PRIMARY KEY CHECK (sequence >= 1),
    type              text        NOT NULL CHECK (type IN ('version_created', 'alias_moved', 'version_archived')),
    model             text        COLLATE "C" NOT NULL,
    version           bigint      NOT NULL,
    alias             text        NOT NULL DEFAULT '',
    previous_version  bigint      NOT NULL DEFAULT 0,
    event_time        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX registry_events_model_idx ON registry_events (model, sequence);
