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
        default_factory=lambda: {"raw": 90, "held": 30, "quarantine": 365, "curated": 365, "reports": 730}
    )
    chunk_size: int = 1024 * 1024


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


class PeerSettings(BaseModel):
    """Peers: the registry file (a table of counties, departments and the province)."""

    registry_file: Path | None = None
    request_timeout_s: float = 10.0
    max_response_bytes: int = 16 * 1024 * 1024
    retry_backoff_s: float = 0.5
    breaker_cooldown_s: float = 30.0


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = 8700
    token_ttl_s: int = 300
    audience: str = "tongban-sharing-api"
    max_upload_bytes: int = 20 * 1024 * 1024


class Settings(BaseSettings):
    """All settings of a tongban process."""

    model_config = SettingsConfigDict(
        env_prefix="TONGBAN_", env_nested_delimiter="__", env_file=".env", extra="ignore"
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
