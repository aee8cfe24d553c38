"""The sharing API as the composition root builds it: settings from the environment, logging, and
the schema revision the code expects (read from the one migration history), for
``uvicorn --factory`` (``tongban api serve``) and the containers."""

from __future__ import annotations

from fastapi import FastAPI


def app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory tongban.api_app:app_from_env``."""
    from core.logging import configure_logging
    from core.settings import load_settings
    from gateway.app import create_app
    from migrations import runner

    settings = load_settings()
    configure_logging(settings.log_level, json_format=settings.log_json)
    return create_app(settings, schema_revision=runner.head_revision())
