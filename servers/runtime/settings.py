"""One settings object per process, read from CHATDB_* environment variables.

This module is the one place where configuration is documented: every field carries a
one-line description, and `chatdb settings` prints them all with their env var names and
current values. Durations carry their unit in the name (`grace_period_s`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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

    # --- gRPC server ---------------------------------------------------------------
    max_receive_message_bytes: int = Field(64 * 1024 * 1024, description="Largest message a server accepts.")
    max_send_message_bytes: int = Field(64 * 1024 * 1024, description="Largest message a server sends.")
    grace_period_s: float = Field(10.0, description="On SIGTERM/SIGINT, how long in-flight calls may take to finish before they are cancelled.")
    drain_delay_s: float = Field(0.0, description="On SIGTERM/SIGINT, how long health reports NOT_SERVING while still taking calls, so load balancers stop routing first.")
    log_level: str = Field("INFO", description="Log level of the JSON log lines (DEBUG, INFO, WARNING, ERROR).")

    # --- TLS -------------------------------------------------------------------------
    tls_cert_file: Path | None = Field(None, description="PEM certificate of this server; with tls_key_file turns TLS on.")
    tls_key_file: Path | None = Field(None, description="PEM private key of this server.")
    tls_client_ca_file: Path | None = Field(None, description="PEM CA bundle; when set, clients must present a certificate signed by it (mTLS).")
    tls_ca_file: Path | None = Field(None, description="PEM CA bundle a ChatDB client (CLI, service-to-service) uses to verify servers.")
    tls_client_cert_file: Path | None = Field(None, description="PEM client certificate a ChatDB client presents for mTLS.")
    tls_client_key_file: Path | None = Field(None, description="PEM private key of tls_client_cert_file.")

    # --- stores ----------------------------------------------------------------------
    database_url: str = Field("postgresql://postgres@127.0.0.1:5432/chatdb", description="Platform PostgreSQL database (created and migrated at start).")
    database_pool_min: int = Field(1, description="Smallest size of the platform database pool.")
    database_pool_max: int = Field(10, description="Largest size of the platform database pool.")
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Redis for the arq queue, caches and counters.")
    redis_prefix: str = Field("chatdb", description="Prefix of every Redis key and arq queue name this deployment uses.")
    data_dir: Path = Field(Path("var/data"), description="Directory CSV datasets are read from.")
    artifact_dir: Path = Field(Path("var/artifacts"), description="Content-addressed store of model artifacts.")

    # --- worker ---------------------------------------------------------------------
    worker_max_jobs: int = Field(2, description="Jobs one worker runs at once.")
    worker_job_timeout_s: int = Field(7200, description="Longest a training job may run.")

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    @property
    def tls_enabled(self) -> bool:
        return self.tls_cert_file is not None and self.tls_key_file is not None


def describe(settings: Settings) -> list[tuple[str, str, str]]:
    """(env var, current value, description) for every field, for `chatdb settings`."""
    rows = []
    for name, field in Settings.model_fields.items():
        rows.append((f"CHATDB_{name.upper()}", str(getattr(settings, name)), field.description or ""))
    return rows
