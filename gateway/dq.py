"""The data-quality site on the HTTP face: ``/quality/…`` serves the pages of
:class:`quality.site.QualitySite` (built there; this module only mounts them).

Operators only, deny unless granted: the caller authenticates as every API client does (OAuth2
client credentials, ``Authorization: Bearer``) and needs a grant of the ``quality`` role
(``tongban api client add DEPT --role quality``); 401 without a token, 403 without the grant,
404 for a page the site does not have. Pages leave with the verify page's headers (no scripts,
nothing cached). The pages link to each other relatively, so ``/quality/`` is the index.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from gateway.api import _problem_responses
from gateway.deps import Svc, Who
from gateway.errors import NotFound
from gateway.models import ROLE_QUALITY
from gateway.page import HTML_HEADERS
from gateway.services import Services

router = APIRouter(tags=["data quality"])
_SITE = "quality_site"


def _site(svc: Services) -> Any:
    site = svc.extra.get(_SITE)
    if site is None:
        from quality.site import QualitySite

        site = QualitySite(svc.settings, database=svc.db)
        svc.extra[_SITE] = site
    return site


@router.get("/quality", include_in_schema=False)
async def quality_root() -> RedirectResponse:
    return RedirectResponse("/quality/", status_code=308)


@router.get(
    "/quality/{path:path}",
    response_class=HTMLResponse,
    summary="数据质量站点 (data-quality site): batches, reports, rules, trends; role `quality`",
    responses=_problem_responses(401, 403, 404),  # no token, no quality grant, no such page
)
async def quality_page(path: str, who: Who, svc: Svc) -> HTMLResponse:
    who.require_role(ROLE_QUALITY)
    data = await run_in_threadpool(_site(svc).page, path)
    if data is None:
        raise NotFound(f"the data-quality site has no page {path!r}")
    return HTMLResponse(data, headers=HTML_HEADERS)
