"""Runtime settings: where state lives and which configuration file to use.

One pydantic-settings class, read from the environment when it is created (never at import time):

- ``TILLSYNSRISK_HOME``   home directory for all state (default ``./var``)
- ``TILLSYNSRISK_CONFIG`` path to a TOML configuration (default: the packaged default)
- ``MLFLOW_TRACKING_URI`` MLflow store (default: SQLite database in ``./mlruns``)
- ``TILLSYNSRISK_API_KEYS_FILE`` / ``TILLSYNSRISK_AUDIT_FILE``  API key store and audit log (SQLite; default
  under the home directory); ``TILLSYNSRISK_CORS_ORIGINS`` a JSON list of allowed origins (default: none)
- ``TILLSYNSRISK_WEB_SESSIONS_FILE`` / ``TILLSYNSRISK_WEB_SESSION_IDLE_MINUTES``  the planners' web pages:
  their server-side session store (SQLite; default under the home directory) and idle timeout
- ``TILLSYNSRISK_SERVER_*``  how ``tillsynsrisk serve`` treats connections: the time a client has to send a
  whole request, the keep-alive time, the connection limit, the listen backlog and the largest request
  head (docs/api.md, "Connections and timeouts")
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from engine.config import Config, load_config


class Settings(BaseSettings):
    """Paths and service locations for one process."""

    model_config = SettingsConfigDict(env_prefix="TILLSYNSRISK_", extra="ignore", frozen=True)

    home: Path = Path("var")
    config_file: Path | None = Field(
        default=None, validation_alias=AliasChoices("TILLSYNSRISK_CONFIG", "config_file")
    )
    mlflow_tracking_uri: str = Field(
        default="sqlite:///mlruns/mlflow.db",
        validation_alias=AliasChoices("MLFLOW_TRACKING_URI", "mlflow_tracking_uri"),
    )
    mlflow_artifact_root: Path = Path("mlruns/artifacts")
    # API (tillsynsrisk serve): key store and audit log default to SQLite files under the home directory.
    api_keys_file: Path | None = None
    audit_file: Path | None = None
    cors_origins: list[str] = Field(default_factory=list)
    scores_refresh_seconds: float = Field(default=1.0, ge=0.0)
    high_risk_percentile: float = Field(default=90.0, ge=0.0, le=100.0)
    # Web pages (api/web): sessions signed in with an API key end after this many idle minutes.
    web_sessions_file: Path | None = None
    web_session_idle_minutes: float = Field(default=30.0, gt=0.0, le=24 * 60)
    # Server (tillsynsrisk serve, uvicorn): a client gets this long from opening a connection, or from the
    # first byte of a later request on it, to send the whole request; slow and idle clients are closed.
    server_request_timeout_seconds: float = Field(default=10.0, gt=0.0, le=300.0)
    server_keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    # uvicorn counts open connections, idle ones included: beyond this many, requests are answered 503.
    server_limit_concurrency: int = Field(default=1000, ge=1, le=1_000_000)
    server_backlog: int = Field(default=2048, ge=1, le=65_535)
    server_max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)

    @property
    def snapshots_dir(self) -> Path:
        return self.home / "snapshots"

    @property
    def features_dir(self) -> Path:
        return self.home / "features"

    @property
    def scores_dir(self) -> Path:
        return self.home / "scores"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def plans_dir(self) -> Path:
        return self.home / "plans"

    @property
    def pseudonym_key_file(self) -> Path:
        """The key of the ingest's keyed pseudonyms (outside every snapshot; mode 0600)."""
        return self.home / "keys" / "pseudonym.key"

    @property
    def api_keys_db(self) -> Path:
        return self.api_keys_file or self.home / "api_keys.sqlite3"

    @property
    def audit_db(self) -> Path:
        return self.audit_file or self.home / "audit.sqlite3"

    @property
    def web_sessions_db(self) -> Path:
        return self.web_sessions_file or self.home / "web_sessions.sqlite3"

    @property
    def events_db(self) -> Path:
        """The change feed's append-only event log (:mod:`engine.events`)."""
        return self.home / "events.sqlite3"

    def load_config(self) -> Config:
        """The effective domain configuration."""
        return load_config(self.config_file)
