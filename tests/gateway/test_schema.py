"""Schemathesis against the OpenAPI document: no 5xx, responses conform to the schema (derandomized).

Every operation of ``/openapi.json`` gets generated requests (authenticated as a client with every
role) on the ASGI app; the checks are: no server error, documented status codes, content types,
response schemas and headers. ``derandomize=True`` makes the run the same on every machine.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings

from core.settings import Settings
from gateway.app import create_app
from gateway.clients import add_client
from gateway.services import build_services
from migrations import runner
from tests.gateway.conftest import DEPT_A, PURPOSE, TYPE_BIZ

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.response_headers_conformance,
]
EXAMPLES = 25


def test_api_conforms_to_its_openapi_document(gw_settings: Settings) -> None:
    s = gw_settings.model_copy(update={"api": gw_settings.api.model_copy(update={"rate_limit_burst": 10**6})})
    svc = build_services(s)
    try:
        app = create_app(s, schema_revision=runner.head_revision(), services=svc, background=False)
        client = add_client(
            svc.db, DEPT_A, types=[TYPE_BIZ], purposes=[PURPOSE], roles=["share", "status", "holder_portal"]
        )
        headers = {"Authorization": "Bearer " + svc.tokens.issue(client.client_id)[0]}
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 15
        failures: list[str] = []
        for op in operations:

            @given(case=op.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                derandomize=True,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def run(case: schemathesis.Case) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            try:
                run()
            except Exception as exc:
                failures.append(f"{op.verbose_name}: {str(exc)[:1500]}")
        assert failures == [], "\n\n".join(failures)
    finally:
        svc.close()
