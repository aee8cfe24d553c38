"""The exception tree of ``pipeline``; every error carries a stable ``code``.

A flow step that cannot finish its work raises one of these at the end of its run (after doing
what it could), so the Airflow task fails and its retry picks up only what is still due::

    TongbanError (contracts.errors)  the kernel: ``code``, ``message``, ``as_dict()``
    └── PipelineError                every error raised by pipeline (PIPELINE_ERROR)
        ├── PushIncomplete           rows for the province still undelivered when the push run ends
        │                            (PIPELINE_PUSH_INCOMPLETE; pipeline.push)
        ├── ArchiveIncomplete        licenses that were due could not be archived; the message says
        │                            which (PIPELINE_ARCHIVE_INCOMPLETE; pipeline.archive)
        └── JointCaseError           a joint-case member (联办件) names no theme or another theme than
                                     its joint case, or a joint case is unknown; the message names
                                     the case, the joint_no and the field (PIPELINE_JOINT_CASE;
                                     pipeline.joint)

Errors of the packages below (``core``, ``quality``, ``connectors``, ``licenses``) pass through
unchanged: each carries its own package's code.
"""

from __future__ import annotations

from contracts.errors import TongbanError


class PipelineError(TongbanError):
    """Base of every error raised by ``pipeline``."""

    code = "PIPELINE_ERROR"


class PushIncomplete(PipelineError):
    """Rows still undelivered when the push run ends (the task fails; Airflow retries it)."""

    code = "PIPELINE_PUSH_INCOMPLETE"


class ArchiveIncomplete(PipelineError):
    """Some licenses that were due could not be archived (the run says which)."""

    code = "PIPELINE_ARCHIVE_INCOMPLETE"


class JointCaseError(PipelineError):
    """A joint-case member row or number that does not fit (names the record and the field)."""

    code = "PIPELINE_JOINT_CASE"
