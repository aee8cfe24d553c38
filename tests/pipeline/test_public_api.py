"""The public surface of ``pipeline`` is pinned; ``import pipeline`` is light (FlowContext, which
needs the database and the connectors, loads on first use) and never imports Airflow."""

from __future__ import annotations

import pipeline
from tests.exports import check_surface, heavy_imports


def test_exported_names() -> None:
    check_surface("pipeline", "ArchiveIncomplete FlowContext PipelineError PushIncomplete")
    from pipeline.context import FlowContext

    assert pipeline.FlowContext is FlowContext
    for exc in (pipeline.PushIncomplete, pipeline.ArchiveIncomplete):
        assert issubclass(exc, pipeline.PipelineError)
        assert exc.code.startswith("PIPELINE_")


def test_importing_pipeline_is_light() -> None:
    banned = ("airflow", "sqlalchemy", "zeep", "requests", "great_expectations", "pyhanko", "pandas")
    assert heavy_imports("pipeline", banned) == []
