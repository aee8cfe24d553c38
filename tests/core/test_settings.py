"""Settings: embedded defaults, environment prefix, nested sections, no secrets in describe()."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import Settings, redact_url


def test_defaults_are_embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = Settings()
    assert s.data_path == (tmp_path / "var").resolve()
    assert s.db_url == f"sqlite:///{tmp_path.resolve() / 'var' / 'tongban.db'}"
    assert s.store.backend == "folder" and s.keys.backend == "file"
    assert s.store_folder == s.data_path / "store"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TONGBAN_DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("TONGBAN_DATABASE_URL", "postgresql+psycopg2://u:secret@db:5432/t")
    monkeypatch.setenv("TONGBAN_STORE__BACKEND", "s3")
    monkeypatch.setenv("TONGBAN_KEYS__PASSPHRASE", "hunter2")
    s = Settings()
    assert s.data_path == (tmp_path / "d").resolve()
    assert s.store.backend == "s3"
    described = str(s.describe())
    assert "secret" not in described and "hunter2" not in described
    assert "***" in described


def test_redact_url_keeps_plain_urls() -> None:
    assert redact_url("sqlite:///x.db") == "sqlite:///x.db"
    assert redact_url("postgresql://a:b@h:1/d") == "postgresql://a:***@h:1/d"
