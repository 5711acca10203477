"""One settings object per process, read from CHATDB_* environment variables.

This module is the one place where configuration is documented: every field carries a
one-line description, and `chatdb settings` prints them all with their env var names and
current values. Durations carry their unit in the name (`grace_period_s`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Default /metrics port of each process (runtime/metrics.py): 9100 + the last two digits
# of its gRPC port, but training (8000), whose 9100 is node_exporter's, takes 9186.
DEFAULT_METRICS_PORTS: dict[str, int] = {
    "gateway": 9180,
    "registry": 9181,
    "parser": 9182,
    "worker": 9183,
    "connector": 9184,
    "prediction": 9185,
    "training": 9186,
}

# Default port of each service (ARCHITECTURE.md). `CHATDB_<SERVICE>_PORT` overrides one.
DEFAULT_PORTS: dict[str, int] = {
    "training": 8000,
    "gateway": 8080,
    "registry": 8081,
    "parser": 8082,
    "worker": 8083,
    "connector": 8084,
    "prediction": 8085,
}


def default_home() -> Path:
    """`var/` of the source checkout this package runs from (found from the package's
    location, not the working directory), else ~/.chatdb for an installed package."""
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "servers" / "runtime").is_dir():
        return checkout / "var"
    return Path.home() / ".chatdb"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CHATDB_", extra="ignore", frozen=True)

    # --- network -------------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address every server binds to.")
    gateway_port: int = Field(DEFAULT_PORTS["gateway"], description="Port of the gateway (ChatService, ApiKeyService, ext_authz).")
    training_port: int = Field(DEFAULT_PORTS["training"], description="Port of the training orchestrator.")
    registry_port: int = Field(DEFAULT_PORTS["registry"], description="Port of the model registry.")
    parser_port: int = Field(DEFAULT_PORTS["parser"], description="Port of the query parser.")
    worker_port: int = Field(DEFAULT_PORTS["worker"], description="Port of the ML-engine worker's health server.")
    connector_port: int = Field(DEFAULT_PORTS["connector"], description="Port of the DB connector.")
    prediction_port: int = Field(DEFAULT_PORTS["prediction"], description="Port of the prediction service.")
    gateway_address: str = Field("", description="Where `chatdb ask|history|status` and `make up` reach the gateway (host:port, e.g. 127.0.0.1:8080); empty: CHATDB_HOST and CHATDB_GATEWAY_PORT.")
    # Per-service addresses when the services do not share one host (Kubernetes: e.g.
    # CHATDB_PARSER_ADDRESS=parser.chatdb.svc:8082); empty: CHATDB_HOST and the service's port.
    training_address: str = Field("", description="Where peers reach the training orchestrator (host:port); empty: CHATDB_HOST and CHATDB_TRAINING_PORT.")
    registry_address: str = Field("", description="Where peers reach the model registry (host:port); empty: CHATDB_HOST and CHATDB_REGISTRY_PORT.")
    parser_address: str = Field("", description="Where peers reach the query parser (host:port); empty: CHATDB_HOST and CHATDB_PARSER_PORT.")
    worker_address: str = Field("", description="Where peers reach the worker's health server (host:port); empty: CHATDB_HOST and CHATDB_WORKER_PORT.")
    connector_address: str = Field("", description="Where peers reach the DB connector (host:port); empty: CHATDB_HOST and CHATDB_CONNECTOR_PORT.")
    prediction_address: str = Field("", description="Where peers reach the prediction service (host:port); empty: CHATDB_HOST and CHATDB_PREDICTION_PORT.")

    # --- gRPC server ---------------------------------------------------------------
    max_receive_message_bytes: int = Field(64 * 1024 * 1024, description="Largest message a server accepts.")
    max_send_message_bytes: int = Field(64 * 1024 * 1024, description="Largest message a server sends.")
    grace_period_s: float = Field(10.0, description="On SIGTERM/SIGINT, how long in-flight calls may take to finish before they are cancelled.")
    drain_delay_s: float = Field(0.0, description="On SIGTERM/SIGINT, how long health reports NOT_SERVING while still taking calls, so load balancers stop routing first.")
    log_level: str = Field("INFO", description="Log level of the JSON log lines (DEBUG, INFO, WARNING, ERROR).")

    # --- TLS -------------------------------------------------------------------------
    tls_cert_file: Path | None = Field(None, description="PEM certificate of this server; with tls_key_file turns TLS on (wins over <tls_identity>.crt in tls_dir).")
    tls_key_file: Path | None = Field(None, description="PEM private key of this server (wins over tls_dir).")
    tls_client_ca_file: Path | None = Field(None, description="PEM CA bundle; when set, clients must present a certificate signed by it (mTLS; wins over tls_dir's ca.crt).")
    tls_ca_file: Path | None = Field(None, description="PEM CA bundle a ChatDB client (CLI, service-to-service) uses to verify servers (wins over tls_dir's ca.crt).")
    tls_client_cert_file: Path | None = Field(None, description="PEM client certificate a ChatDB client presents for mTLS (wins over <tls_identity>.crt in tls_dir).")
    tls_client_key_file: Path | None = Field(None, description="PEM private key of tls_client_cert_file.")

    # --- stores ----------------------------------------------------------------------
    database_url: str = Field("postgresql://postgres@127.0.0.1:5432/chatdb", description="Platform PostgreSQL database (created and migrated at start).")
    database_pool_min: int = Field(1, description="Smallest size of the platform database pool.")
    database_pool_max: int = Field(10, description="Largest size of the platform database pool.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for the arq queue, caches and counters.")
    redis_prefix: str = Field("chatdb", description="Prefix of every Redis key and arq queue name this deployment uses.")
    home: Path = Field(default_factory=lambda: default_home(), description="Home of this deployment's local state (datasets, artifacts, and for `make up` pids, logs, certificates); relative data_dir and artifact_dir resolve against it, never against the working directory. Default: the var/ directory of the source checkout the code runs from, else ~/.chatdb.")
    data_dir: Path = Field(Path("data"), description="Directory CSV datasets are read from (relative: under home).")
    artifact_dir: Path = Field(Path("artifacts"), description="Content-addressed store of model artifacts (relative: under home).")

    @field_validator("home")
    @classmethod
    def _absolute_home(cls, value: Path) -> Path:
        return Path(value).expanduser().absolute()

    @field_validator("data_dir", "artifact_dir")
    @classmethod
    def _under_home(cls, value: Path, info: ValidationInfo) -> Path:
        value = Path(value).expanduser()
        home = info.data.get("home")
        return value if value.is_absolute() or home is None else home / value

    # --- worker ---------------------------------------------------------------------
    worker_max_jobs: int = Field(2, description="Jobs one worker runs at once.")
    worker_job_timeout_s: int = Field(7200, description="Longest a training job may run.")
    worker_poll_delay_s: float = Field(0.05, description="How often an idle worker looks at the queue for new jobs.")
    worker_redis_backoff_max_s: float = Field(5.0, description="While Redis is unreachable the worker reports NOT_SERVING and retries it with backoff doubling up to this (seconds).")
    worker_redis_timeout_s: float = Field(5.0, description="Longest a worker waits for one Redis command before it counts Redis as unreachable.")

    # --- connector -------------------------------------------------------------------
    connector_pool_min_size: int = Field(1, description="Connector: connections each user-database pool keeps open when idle (a connection's options may override).")
    connector_pool_max_size: int = Field(5, description="Connector: most connections each user-database pool opens (a connection's options may override).")
    connector_connect_timeout_s: float = Field(5.0, description="Connector: default time allowed to open a connection to a user database.")
    connector_statement_timeout_s: float = Field(30.0, description="Connector: default time a statement may run when neither the connection nor the request sets less.")
    connector_max_statement_timeout_s: float = Field(600.0, description="Connector: longest statement timeout a connection may be created with.")
    connector_schema_cache_ttl_s: float = Field(300.0, description="Connector: how long an introspected schema is served from the cache before GetSchema introspects again.")
    connector_default_page_size: int = Field(1000, description="Connector: rows per ExecuteQuery page when the request sets no page_size.")
    connector_max_page_size: int = Field(10000, description="Connector: largest ExecuteQuery page_size; larger requests are capped to it.")
    connector_default_list_page_size: int = Field(100, description="Connector: connections per ListConnections page when the request sets no page_size.")
    connector_max_list_page_size: int = Field(1000, description="Connector: largest ListConnections page_size; larger requests are capped to it.")
    connector_stream_batch_size: int = Field(500, description="Connector: rows per StreamQuery batch when the request sets no batch_size.")
    connector_max_stream_batch_size: int = Field(10000, description="Connector: largest StreamQuery batch_size; larger requests are capped to it.")
    connector_max_rows: int = Field(100_000, description="Connector: default row cap of a connection (most rows one query returns over all pages).")
    connector_row_cap: int = Field(10_000_000, description="Connector: hard upper bound of any connection's max_rows.")
    page_token_key: SecretStr | None = Field(None, description="HMAC key signing list page tokens (ListModels, ListModelVersions, ListTrainingJobs); unset = derived from CHATDB_DATABASE_URL, so every replica on one platform database accepts them and they survive restarts.")
    connector_page_token_key: SecretStr | None = Field(None, description="Connector: HMAC key signing ExecuteQuery/ListConnections page tokens; unset = random per process (tokens then die with the process and differ between replicas).")
    connector_secrets_key: SecretStr | None = Field(None, description="Connector: Fernet key (urlsafe base64, 32 bytes) encrypting stored connection secrets at rest; unset = stored in clear in the platform database.")
    connector_demo_postgres_dsn: str = Field("postgresql://chatdb_reader:chatdb_reader@127.0.0.1:5432/chatdb_demo", description="Connector: DSN `make up` registers as connection demo-postgres; `chatdb demo-data` makes its user SELECT-only on the demo database.")
    connector_demo_mysql_dsn: str = Field("mysql://chatdb_reader:chatdb_reader@127.0.0.1:3306/chatdb_demo", description="Connector: DSN `make up` registers as connection demo-mysql; `chatdb demo-data` makes its user SELECT-only on the demo database.")
    connector_held_cursors: int = Field(16, description="Connector: open cursors kept between ExecuteQuery pages so walking a result is linear (0 = stateless paging only).")
    connector_held_cursor_idle_s: float = Field(30.0, description="Connector: a cursor kept between pages is closed after this long unused.")
    connector_allow_writable: bool = Field(False, description="Connector: allow creating (and running statements on) connections with read_only=false; off by default, since a writable connection runs what its user sends with the DSN user's privileges.")
    connector_mask_personal_data: bool = Field(True, description="Connector: mask personal data (detected by column name and sampled values, or marked pii in the glossary) in ExecuteQuery and StreamQuery answers for callers without the admin role; see docs/ARCHITECTURE.md, Personal data.")
    # --- end connector ---------------------------------------------------------------

    # --- registry --------------------------------------------------------------------
    registry_max_artifact_bytes: int = Field(2 * 1024**3, description="Registry: largest model artifact an upload may store (bytes).")
    registry_download_chunk_bytes: int = Field(256 * 1024, description="Registry: size of the chunks DownloadModelVersion streams (bytes, at most 1 MiB).")
    registry_watch_poll_s: float = Field(1.0, description="Registry: how often WatchModelEvents re-reads the event table when no NOTIFY arrives (backstop).")
    # Artifact store (servers/registry/artifacts.py, s3.py). S3 credentials are boto3's
    # usual chain (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, profile, role), not CHATDB_*.
    artifact_url: str = Field("", description="Registry: where artifacts are stored: file:///path, or s3://bucket/prefix for any S3 API (AWS S3, MinIO, Ceph), which several registry replicas can share; empty: files in artifact_dir.")
    s3_endpoint_url: str = Field("", description="Registry: S3 API endpoint of a store that is not AWS (MinIO, Ceph: e.g. http://minio:9000); empty: AWS S3 of the region.")
    s3_region: str = Field("", description="Registry: S3 region; empty: boto3's chain (AWS_REGION, AWS_DEFAULT_REGION, profile), else us-east-1.")
    s3_part_size_bytes: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024, description="Registry: part size of S3 multipart uploads (at least 5 MiB, S3's smallest); smaller artifacts take one PUT.")
    s3_timeout_s: float = Field(10.0, description="Registry: S3 connect and read timeout per attempt; an S3 call still failing after s3_max_attempts is UNAVAILABLE.")
    s3_max_attempts: int = Field(3, ge=1, description="Registry: attempts per S3 call (boto3's standard retry mode, with backoff).")

    @field_validator("artifact_url")
    @classmethod
    def _artifact_url(cls, value: str) -> str:
        if value and not (value.startswith("file:///") or (value.startswith("s3://") and len(value) > len("s3://"))):
            raise ValueError("must be file:///absolute/path or s3://bucket/prefix")
        return value
    # --- end registry ----------------------------------------------------------------

    # --- training -------------------------------------------------------------------
    training_max_attempts: int = Field(3, description="Training: attempts a job gets before a lost worker fails it.")
    training_heartbeat_interval_s: float = Field(1.0, description="Training: how often a worker heartbeats a running job (and notices a cancel).")
    training_heartbeat_stale_s: float = Field(30.0, description="Training: a RUNNING job whose heartbeat is older than this is re-queued by the reaper.")
    training_reaper_interval_s: float = Field(5.0, description="Training: how often the orchestrator's reaper looks for lost jobs.")
    training_lost_queue_after_s: float = Field(30.0, description="Training: a QUEUED job missing from the queue this long is enqueued again.")
    training_validation_sample_rows: int = Field(1000, description="Training: rows of the dataset CreateTrainingJob reads to validate a spec.")
    training_threads: int = Field(2, description="Training: CPU threads one training may use (n_jobs / OpenMP).")
    training_registry_retry_s: float = Field(120.0, description="Training: how long a worker retries an unreachable model registry (UNAVAILABLE, DEADLINE_EXCEEDED) to register a finished training before the job fails with a reason.")
    # --- end training ---------------------------------------------------------------

    # --- prediction -----------------------------------------------------------------
    prediction_intra_op_threads: int = Field(1, description="Prediction: ONNX Runtime intra-op threads per session (1: fastest for single rows, the hot path; 2 ran 1,024-row forest batches ~1.6x faster at concurrency 1 on 2 cores and no other model faster).")
    prediction_inter_op_threads: int = Field(1, description="Prediction: ONNX Runtime inter-op threads per session (sessions run sequentially; more only helps graphs with parallel branches).")
    prediction_max_models: int = Field(32, description="Prediction: most model versions kept loaded (LRU; versions an alias points to are evicted last).")
    prediction_max_model_bytes: int = Field(1024**3, description="Prediction: most bytes of ONNX artifacts kept loaded (LRU; a proxy for session memory).")
    prediction_batch_max_size: int = Field(32, description="Prediction: dynamic batching, most single-row requests run as one ONNX Runtime call.")
    prediction_batch_max_delay_ms: float = Field(1.0, description="Prediction: dynamic batching, longest a single-row request waits for others (ms); 0 turns batching off. 1 ms raised single-row Predict at concurrency 16/64 from ~0.6 to ~0.8 of ServerLive on 2 cores and left concurrency 1 as it was (bench/prediction.py).")
    prediction_max_predict_rows: int = Field(1000, description="Prediction: most rows one Predict or ModelInfer call may send.")
    prediction_max_batch_rows: int = Field(100_000, description="Prediction: most rows one BatchPredict call may send.")
    prediction_batch_rows: int = Field(1024, description="Prediction: rows per model run in BatchPredict when the request sets no batch_size.")
    prediction_preload_aliases: str = Field("production", description="Prediction: comma-separated aliases whose versions are loaded at start (health is NOT_SERVING until done) and followed when they move.")
    prediction_registry_wait_s: float = Field(5.0, description="Prediction: how long the preload waits for an unreachable registry before starting without models.")
    prediction_failed_retry_s: float = Field(30.0, description="Prediction: how long a version that failed to load answers FAILED_PRECONDITION before a request tries again.")
    prediction_resync_interval_s: float = Field(60.0, description="Prediction: how often followed aliases are re-read from the registry, a backstop for missed events.")
    # --- end prediction -------------------------------------------------------------

    # --- gateway status ---------------------------------------------------------------
    gateway_status_timeout_s: float = Field(0.3, description="Gateway status: longest one health check (a service's grpc.health Check, SELECT 1, PING, a user-database probe) may take before the component counts as down.")
    gateway_status_interval_s: float = Field(2.0, description="Gateway status: how often the mesh's health is checked in the background; GetSystemStatus answers from a snapshot younger than this without checking again.")
    gateway_breaker_failures: int = Field(3, description="Gateway status: failed checks in a row after which a component is reported NOT_SERVING without being called (circuit open).")
    gateway_breaker_cooldown_s: float = Field(10.0, description="Gateway status: how long an open circuit stays open before one trial check (half-open) may close it again.")
    # --- end gateway status -----------------------------------------------------------

    # --- parser ---------------------------------------------------------------------
    parser_sample_values: int = Field(2000, description="Parser: most distinct values sampled per text column for value linking (most frequent first), once per schema version.")
    parser_sample_max_chars: int = Field(100, description="Parser: sampled values longer than this are not linked (a question quotes names and categories, not paragraphs).")
    parser_schema_ttl_s: float = Field(5.0, description="Parser: how long a connection's schema, kind and glossary are reused before the connector is asked again (its version decides whether anything is re-prepared).")
    parser_prepared_cache: int = Field(32, description="Parser: prepared schemas (word forms, value index, embeddings) kept, one per connection, schema version and glossary version.")
    parser_intent_model: str = Field("query-intent", description="Parser: registered model (alias production) that classifies a question's intent; `chatdb parser bootstrap-intent` trains it.")
    parser_intent_timeout_s: float = Field(0.3, description="Parser: longest wait for the intent model's prediction before the rule path answers.")
    parser_intent_breaker_s: float = Field(5.0, description="Parser: after a failed intent-model call, how long the model is skipped (rules answer) before it is tried again.")
    # --- end parser -----------------------------------------------------------------

    # --- gateway --------------------------------------------------------------------
    gateway_max_rows: int = Field(10_000, description="Gateway: most rows one Ask returns over all pages (a request's max_rows is capped to it; 0 in a request means this).")
    gateway_cache_ttl_s: float = Field(1800.0, description="Gateway: how long an answer stays in the Redis result cache (a schema or glossary change makes a new key at once).")
    gateway_versions_ttl_s: float = Field(5.0, description="Gateway: how long a connection's schema and glossary versions (part of the result cache key) are reused before the connector is asked again.")
    gateway_accepted_similarity: float = Field(0.92, description="Gateway: cosine similarity (word embeddings) at or above which a question reuses the statement of an accepted answer on the same connection.")
    gateway_accepted_ttl_s: float = Field(5.0, description="Gateway: how long a connection's accepted answers are kept in memory before they are read again (feedback given to this replica shows at once).")
    gateway_history_queue: int = Field(10_000, description="Gateway: most history and audit writes waiting for PostgreSQL (they are written off the response path); past it the oldest is dropped with a log line.")
    gateway_history_retry_s: float = Field(1.0, description="Gateway: pause between tries to write waiting history while PostgreSQL is unreachable.")
    gateway_call_timeout_s: float = Field(30.0, description="Gateway: longest wait for the parser or the connector on one Ask.")
    gateway_page_token_key: SecretStr | None = Field(None, description="Gateway: HMAC key signing Ask and ListQueries page tokens; unset = derived from CHATDB_DATABASE_URL (every replica on one platform database accepts them).")
    # --- end gateway ----------------------------------------------------------------

    # --- gateway ML -----------------------------------------------------------------
    gateway_ml_alias: str = Field("production", description="Gateway: the alias a question about a model (predict, how is it doing) reads; without it, the model's newest ready version.")
    gateway_ml_inline_rows: int = Field(10_000, description="Gateway: most rows of a MongoDB collection sent inline as a training dataset (the training service takes at most 10,000 inline records; a SQL connection's table is read by the worker instead).")
    gateway_ml_max_classes: int = Field(20, description="Gateway: an integer target with at most this many distinct values is trained as classification, more as regression.")
    gateway_ml_classification_algorithm: str = Field("random_forest", description="Gateway: the algorithm of a classification that a question asks to train.")
    gateway_ml_regression_algorithm: str = Field("random_forest", description="Gateway: the algorithm of a regression that a question asks to train.")
    gateway_ml_timeout_s: float = Field(10.0, description="Gateway: longest wait for each call to the training, prediction and registry services (and the connector's schema reads) while answering a question about models.")
    gateway_anomaly_wait_s: float = Field(45.0, description="Gateway: longest an anomaly question (\"which orders look unusual?\") waits for the training of the table's anomaly model on first ask; past it the answer names the job and asks to ask again (below the edge's 60 s route timeout).")
    gateway_anomaly_max_rows: int = Field(10_000, description="Gateway: most rows of a table an anomaly model is trained on and scores per question (the first ones by primary key; the answer says when the table holds more).")
    gateway_anomaly_retrain_change: float = Field(0.2, ge=0.0, description="Gateway: when a table's row count (up to gateway_anomaly_max_rows) differs from the rows its anomaly model learnt from by more than this share, an anomaly question is answered by the current model and a new version is trained in the background for later questions (0: never retrain on row changes; a change of columns always retrains).")
    gateway_anomaly_contamination: float = Field(0.02, gt=0.0, le=0.5, description="Gateway: share of a table's rows an anomaly model trained for a question flags as unusual (IsolationForest's contamination).")
    # --- end gateway ML -------------------------------------------------------------

    # --- mesh PKI (edge-pki) ------------------------------------------------------------
    tls_dir: Path | None = Field(None, description="Directory of the mesh PKI (CHATDB_HOME/certs, written by `chatdb certs`); when set, mTLS is on everywhere: a server presents <tls_identity>.crt/.key from it and requires client certificates chained to its ca.crt, channels present the same certificate and verify servers against ca.crt. The explicit tls_*_file settings win file by file. Relative: under home.")
    health_probe_port: int = Field(0, description="Port of a plaintext server carrying only grpc.health.v1 (the same statuses as the service's port), for probes that cannot do mTLS, such as Kubernetes' native gRPC probes; 0: none. Only with TLS on (without TLS the service's port answers probes itself).")
    tls_identity: str = Field("cli", description="Which certificate in tls_dir this process presents: `chatdb serve S` and the worker set their service name themselves; other commands present cli (the operator), or e.g. clients/alice.")

    @field_validator("tls_dir")
    @classmethod
    def _tls_dir_under_home(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None or str(value) == "":
            return None
        value = Path(value).expanduser()
        home = info.data.get("home")
        return value if value.is_absolute() or home is None else home / value
    # --- end mesh PKI ---------------------------------------------------------------
    # --- gateway API keys and ext_authz (issue 15, edge-keys) ---------------------------
    gateway_authz_port: int = Field(8086, description="Gateway: port of the ext_authz HTTP server Envoy asks about every request's API key (127.0.0.1 only, like CHATDB_HOST).")
    gateway_authz_refresh_s: float = Field(0.5, description="Gateway: how often the ext_authz server reloads the active API keys from PostgreSQL; a key revoked through another replica is refused after at most this (one revoked through this replica at once).")
    gateway_api_key_last_use_interval_s: float = Field(60.0, description="Gateway: how often the API keys' last_use_time is written (one batched UPDATE for every key used meanwhile).")
    quota_redis_retry_s: float = Field(5.0, description="Quotas: after Redis failed to count a call, how long quotas are not enforced before Redis is tried again (calls are answered meanwhile).")
    # --- end gateway API keys ----------------------------------------------------------
    # --- edge (Envoy) -----------------------------------------------------------------
    edge_host: str = Field("0.0.0.0", description="Edge: address Envoy's listener binds to (mTLS, gRPC and REST).")
    edge_port: int = Field(8443, description="Edge: port of Envoy's listener (gRPC, REST/JSON, grpcurl).")
    edge_admin_port: int = Field(9901, description="Edge: port of Envoy's admin interface (bound to 127.0.0.1 only).")
    edge_metrics_port: int = Field(0, description="Edge: port of a plain-HTTP listener on edge_host that serves only Envoy's /stats/prometheus and /ready, taken from the admin interface, for Prometheus and a readiness probe from outside the pod (Kubernetes: 9187); every other path is 404. 0: off, as on one machine, where the admin port serves both on loopback.")
    edge_rate_limit_per_s: int = Field(5000, description="Edge: local rate limit of the whole edge (a flood guard above what this mesh serves on 2 cores; per-key limits are the quotas), requests per second refilled into the token bucket (0: no rate limit); over it REST gets 429, gRPC RESOURCE_EXHAUSTED.")
    edge_rate_limit_burst: int = Field(10_000, description="Edge: local rate limit, the token bucket's size (most requests at once).")
    edge_authz: bool = Field(True, description="Edge: ask the gateway's ext_authz server about the API key on every request (false: no ext_authz filter, for tests of the edge alone).")
    edge_authz_timeout_s: float = Field(1.0, description="Edge: longest wait for the ext_authz server; past it (or when it is down) the request is refused (failure_mode_allow false).")
    edge_authz_cache_ms: int = Field(250, ge=0, le=250, description="Edge: how long each Envoy worker reuses an *allowed* API-key decision for the same key, client certificate and gRPC method (a Lua filter asking the gateway's authz server in place of ext_authz; refusals are never cached). A revoked key is refused after at most gateway_authz_refresh_s plus this, hence at most 250 (0.5 + 0.25 s, within a second); 0: ext_authz asks on every request.")
    edge_route_timeout_s: float = Field(60.0, description="Edge: timeout of a unary call through Envoy (streams have none); a client deadline below it is honoured.")
    edge_health_interval_s: float = Field(1.0, description="Edge: interval of Envoy's gRPC health checks of every upstream service.")
    edge_max_requests: int = Field(1024, description="Edge: circuit breaker, most connections, pending and active requests per upstream service.")
    edge_max_connections: int = Field(10_000, description="Edge: most client connections Envoy holds open at once (overload manager).")
    edge_access_log: str = Field("", description="Edge: file of Envoy's JSON access log ('-': stdout; empty: logs/envoy-access.log under home).")
    edge_envoy_bin: str = Field("", description="Edge: the envoy binary (empty: `envoy` next to the Python interpreter, else on PATH).")
    # --- end edge (Envoy) -------------------------------------------------------------

    # --- up (deploy/launcher.py) ----------------------------------------------------
    demo_mongo_url: str = Field("mongodb://127.0.0.1:27017", description="`chatdb up`: MongoDB the demo data is loaded into and registered as connection demo-mongo (database chatdb_demo, read-only); skipped with a note when it does not answer.")
    # --- end up ---------------------------------------------------------------------
    # --- metrics (ops-metrics) --------------------------------------------------------
    gateway_metrics_port: int = Field(DEFAULT_METRICS_PORTS["gateway"], description="Metrics: port of the gateway's Prometheus /metrics endpoint (on CHATDB_HOST; 0: off).")
    training_metrics_port: int = Field(DEFAULT_METRICS_PORTS["training"], description="Metrics: port of the training orchestrator's /metrics endpoint (0: off).")
    registry_metrics_port: int = Field(DEFAULT_METRICS_PORTS["registry"], description="Metrics: port of the model registry's /metrics endpoint (0: off).")
    parser_metrics_port: int = Field(DEFAULT_METRICS_PORTS["parser"], description="Metrics: port of the query parser's /metrics endpoint (0: off).")
    worker_metrics_port: int = Field(DEFAULT_METRICS_PORTS["worker"], description="Metrics: port of the worker's /metrics endpoint (training job durations, queue depth; 0: off).")
    connector_metrics_port: int = Field(DEFAULT_METRICS_PORTS["connector"], description="Metrics: port of the DB connector's /metrics endpoint (pools, connections per kind; 0: off).")
    prediction_metrics_port: int = Field(DEFAULT_METRICS_PORTS["prediction"], description="Metrics: port of the prediction service's /metrics endpoint (predictions per model version; 0: off).")
    # --- end metrics ------------------------------------------------------------------

    # --- tracing (servers/runtime/tracing.py) -----------------------------------------
    trace_exporter: str = Field("file", description="Tracing: where this process's OpenTelemetry spans go: file (JSON lines in trace_dir/<service>.jsonl), console (the same lines on stdout), otlp (OTLP/gRPC to otel_exporter_otlp_endpoint) or none (no spans recorded; trace ids are still made and passed on).")
    trace_dir: Path = Field(Path("traces"), description="Tracing: directory of the file exporter's <service>.jsonl files (relative: under home).")
    trace_file_max_bytes: int = Field(100 * 1024**2, ge=0, description="Tracing: size at which a file exporter's <service>.jsonl becomes <service>.jsonl.1 (replacing the previous one) and a new file starts (0: never).")
    otel_exporter_otlp_endpoint: str = Field("", description="Tracing: OTLP/gRPC collector (e.g. http://127.0.0.1:4317) of the otlp exporter and of Envoy's OpenTelemetry tracer (which is on only when an endpoint is set); empty: the standard OTEL_EXPORTER_OTLP_ENDPOINT.")
    trace_sample_ratio: float = Field(1.0, ge=0.0, le=1.0, description="Tracing: share of new traces recorded (parent-based: a call arriving with a sampled traceparent is always recorded, an unsampled one never).")

    @field_validator("trace_exporter")
    @classmethod
    def _known_exporter(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("file", "console", "otlp", "none"):
            raise ValueError(f"trace_exporter must be file, console, otlp or none, not {value!r}")
        return value

    @field_validator("trace_dir")
    @classmethod
    def _trace_dir_under_home(cls, value: Path, info: ValidationInfo) -> Path:
        value = Path(value).expanduser()
        home = info.data.get("home")
        return value if value.is_absolute() or home is None else home / value
    # --- end tracing ----------------------------------------------------------------

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    def metrics_port_of(self, process: str) -> int:
        """CHATDB_<PROCESS>_METRICS_PORT (0: no /metrics endpoint)."""
        return int(getattr(self, f"{process}_metrics_port", 0) or 0)

    def address_override(self, service: str) -> str:
        """CHATDB_<SERVICE>_ADDRESS (host:port) when set, else ""."""
        return str(getattr(self, f"{service}_address", "") or "")

    @property
    def tls_enabled(self) -> bool:
        return self.tls_dir is not None or (self.tls_cert_file is not None and self.tls_key_file is not None)


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(env var, current value, description) for every field, for `chatdb settings`."""
    rows = []
    for name, field in Settings.model_fields.items():
        rows.append((f"CHATDB_{name.upper()}", str(getattr(settings, name)), field.description or ""))
    return rows
