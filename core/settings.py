"""One settings object for the whole runtime (env prefix ``TONGBAN_``, optional ``.env``).

Defaults are the embedded ones: everything lives under ``TONGBAN_DATA_DIR`` (``./var``), the
database is a SQLite file there, the object store a folder there, keys encrypted files there.
Nested sections are set with a double underscore, e.g. ``TONGBAN_STORE__BACKEND=s3``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class StoreSettings(BaseModel):
    """Object store: a local folder (embedded) or S3 / MinIO."""

    backend: Literal["folder", "s3"] = "folder"
    folder: Path | None = None  # default: <data_dir>/store
    s3_endpoint: str = "127.0.0.1:9000"
    s3_access_key: str = "minioadmin"
    s3_secret_key: SecretStr = SecretStr("minioadmin")
    s3_secure: bool = False
    s3_region: str = "us-east-1"
    bucket_prefix: str = "tongban"
    # retention per zone in days; a zone not listed (licenses) is never swept
    retention_days: dict[str, int] = Field(
        default_factory=lambda: {"raw": 90, "held": 30, "quarantine": 365, "reports": 730}
    )
    chunk_size: int = 1024 * 1024  # plaintext bytes per authenticated chunk (and per read)
    s3_part_size: int = 16 * 1024 * 1024  # multipart part size: an S3 put holds about one part in memory
    license_lock_mode: Literal["GOVERNANCE", "COMPLIANCE"] = "GOVERNANCE"  # licenses bucket object lock
    license_lock_years: int = 30  # default retention of the licenses bucket (object lock)
    staging_dir: Path | None = None  # where S3 puts spool before upload (default: the system temp dir)


class KeySettings(BaseModel):
    """Key store: encrypted PKCS#8 files (embedded) or a PKCS#11 token."""

    backend: Literal["file", "pkcs11"] = "file"
    folder: Path | None = None  # default: <data_dir>/keys
    passphrase: SecretStr | None = None
    passphrase_file: Path | None = None  # default: <data_dir>/secrets/keystore.pass (made by init)
    pkcs11_module: str = "/usr/lib/softhsm/libsofthsm2.so"
    pkcs11_token_label: str = "tongban"  # noqa: S105
    pkcs11_pin: SecretStr | None = None
    token_key_lifetime_days: int = 30


class PkiSettings(BaseModel):
    """Certificates, CRL and timestamping."""

    folder: Path | None = None  # default: <data_dir>/pki
    public_base_url: str = "http://127.0.0.1:8700"  # where CRL / AIA / TSA URLs point
    tsa_url: str | None = None  # None: the in-process TSA of the embedded default
    sample: bool = True  # init makes a sample (样例 TEST) CA when none was imported
    departments_file: Path | None = None  # extra/overriding departments (JSON), see licenses/pki
    crl_validity_hours: int = 168  # nextUpdate of the issuing CA's CRL
    seal_validity_days: int = 730  # department seal, platform seal
    tsa_timeout_s: float = 10.0  # HTTP timeout of the timestamp client
    # algorithms no longer trusted for long-term evidence (digest or signature names as asn1crypto
    # spells them: md5, sha1, sha256, rsassa_pkcs1v15, ecdsa, sha1_rsa …); a stored license whose
    # newest evidence uses one is re-timestamped by license_archive (JSON list in the environment)
    deprecated_algorithms: list[str] = Field(default_factory=lambda: ["md5", "sha1"])


class PeerSettings(BaseModel):
    """Peers: the registry file (a table of counties, departments and the province)."""

    registry_file: Path | None = None
    request_timeout_s: float = 10.0
    max_response_bytes: int = 16 * 1024 * 1024
    retry_backoff_s: float = 0.5
    breaker_cooldown_s: float = 30.0
    # connectors (issue 6): every duration below is multiplied by time_scale (tests: 0.01-0.1)
    time_scale: float = 1.0
    connect_timeout_s: float = 5.0
    retry_attempts: int = 3  # tries per call inside a client (the outbox retries again later)
    retry_max_backoff_s: float = 10.0
    breaker_failures: int = 5  # consecutive retryable failures that open an endpoint's breaker
    outbox_batch_rows: int = 500
    outbox_batch_bytes: int = 2 * 1024 * 1024
    outbox_concurrency: int = 2  # batches in flight per peer
    outbox_lease_s: float = 60.0
    outbox_max_attempts: int = 25  # then a row parks in the dead-letter state
    outbox_retry_delay_s: float = 1.0  # base delay before a failed batch's rows are claimable again
    message_body_cap_bytes: int = 4096  # bodies kept in the message log (after redaction); 0 = none
    pull_page_size: int = 500


class ApiSettings(BaseModel):
    """The sharing API (gateway/): server, tokens, limits, webhooks, ledger anchoring."""

    host: str = "127.0.0.1"
    port: int = 8700
    workers: int = 1  # uvicorn worker processes of `tongban api serve`
    keep_alive_s: int = 75  # idle keep-alive connections are closed after this (above a proxy's 60 s)
    token_ttl_s: int = 300
    audience: str = "tongban-sharing-api"
    max_upload_bytes: int = 20 * 1024 * 1024  # POST /v1/verify (PDF upload)
    max_body_bytes: int = 64 * 1024  # every other request body
    rate_limit_backend: Literal["memory", "redis"] = "memory"  # memory: per worker process
    redis_url: str = "redis://127.0.0.1:6379/0"
    rate_limit_per_s: float = 50.0  # sustained requests per second per client
    rate_limit_burst: int = 100  # bucket size per client
    client_cache_s: float = 10.0  # how long a worker caches a client's grants
    license_cache_refresh_s: float = 0.2  # license views cached per worker, re-checked this often (0: off)
    ledger_linger_ms: float = 0.0  # extra wait to grow a group commit (0: natural batching)
    anchor_interval_s: float = 3600.0  # RFC 3161 anchoring of the use-ledger heads (0: off)
    webhook_interval_s: float = 5.0  # how often the worker looks for status changes and due deliveries
    webhook_max_attempts: int = 8
    webhook_backoff_s: float = 2.0  # first retry delay, doubled per attempt
    webhook_timeout_s: float = 5.0
    # hosts or CIDR networks a webhook may reach although they are internal (loopback, private,
    # link-local …); empty: only public addresses (gateway.webhook_targets)
    webhook_allow: tuple[str, ...] = ()
    copy_max_days: int = 90  # longest validity of an annotated copy


class QualitySettings(BaseModel):
    """Data-quality gate (quality/): hold time of child rows waiting for their parent, report size."""

    hold_hours: float = 72.0  # a held child row is quarantined (child.parent_missing) after this
    report_sample_rows: int = 20  # failing rows shown (masked) in each batch report
    calendar_dir: Path | None = None  # working-day supplements (<year>.json); default $TONGBAN_CALENDAR_DIR


class PipelineSettings(BaseModel):
    """The pipeline flows (pipeline, dags/): batch sizes, waits, the province peer."""

    raw_batch_rows: int = 2000  # rows per raw batch cut from a county's pulled rows
    pull_page_rows: int = 500  # rows per feed page
    province_peer: str = "province"  # registry id of the province the curated rows go to
    awaiting_flag_hours: float = 72.0  # a finished case awaiting approval data longer is flagged
    push_max_seconds: float = 600.0  # one delivery run; rows left over make the task fail and retry
    issue_chunk: int = 64  # finished cases issued per registry call (progress and commits)
    archive_every_days: float = 365.0  # license_archive: re-timestamp (B-LTA) files older than this
    # license_archive: also re-timestamp when the newest timestamp's TSA certificate, or a certificate
    # of the validation data, expires within this many days (renewal by evidence, not only by age)
    archive_margin_days: float = 90.0


class Settings(BaseSettings):
    """All settings of a tongban process."""

    model_config = SettingsConfigDict(
        env_prefix="TONGBAN_",
        env_nested_delimiter="__",
        env_file=".env",
        extra="ignore",
        env_ignore_empty=True,  # an empty variable means "the default" (docker-compose passes ${X:-})
    )

    data_dir: Path = Path("var")
    database_url: str | None = None  # default: sqlite:///<data_dir>/tongban.db
    log_level: str = "INFO"
    log_json: bool = False
    platform_name: str = "通办电子证照共享平台（样例）"
    failure_webhook_url: str | None = None
    store: StoreSettings = Field(default_factory=StoreSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    pki: PkiSettings = Field(default_factory=PkiSettings)
    peers: PeerSettings = Field(default_factory=PeerSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    quality: QualitySettings = Field(default_factory=QualitySettings)
    pipeline: PipelineSettings = Field(default_factory=PipelineSettings)

    @cached_property
    def data_path(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_path / 'tongban.db'}"

    @property
    def store_folder(self) -> Path:
        return (self.store.folder or self.data_path / "store").expanduser().resolve()

    @property
    def keys_folder(self) -> Path:
        return (self.keys.folder or self.data_path / "keys").expanduser().resolve()

    @property
    def pki_folder(self) -> Path:
        return (self.pki.folder or self.data_path / "pki").expanduser().resolve()

    @property
    def passphrase_path(self) -> Path:
        return (self.keys.passphrase_file or self.data_path / "secrets" / "keystore.pass").expanduser()

    def describe(self) -> dict[str, object]:
        """A view for ``doctor``: no secrets."""
        return {
            "data_dir": str(self.data_path),
            "database": redact_url(self.db_url),
            "store": {
                "backend": self.store.backend,
                "location": str(self.store_folder)
                if self.store.backend == "folder"
                else self.store.s3_endpoint,
            },
            "keys": {"backend": self.keys.backend, "location": str(self.keys_folder)},
            "tsa": self.pki.tsa_url or "in-process",
        }


def redact_url(url: str) -> str:
    """Hide the password of a database URL."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (and ``.env``), with explicit overrides on top."""
    return Settings(**overrides)  # type: ignore[arg-type]
