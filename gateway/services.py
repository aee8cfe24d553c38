"""The parts one API process runs with, built from settings in one place.

:func:`build_services` opens the database, the key store (token key, pseudonym key), the
group-commit ledger writer, the rate limiter and the license port. Tests build the same container
with injected clocks or limiters. Nothing here runs at import time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from core.db import Database
from core.ledger_writer import GroupCommitWriter
from core.runtime import keystore, open_database
from core.settings import Settings
from gateway.clients import PrincipalCache
from gateway.metrics import Metrics
from gateway.ports import LicensePort
from gateway.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from gateway.security import TokenService
from gateway.uses import UseRecorder
from gateway.viewcache import CachedLicensePort

PSEUDONYM_PURPOSE = "use-pseudonym"


@dataclass
class Services:
    settings: Settings
    db: Database
    tokens: TokenService
    principals: PrincipalCache
    limiter: RateLimiter
    writer: GroupCommitWriter
    uses: UseRecorder
    licenses: LicensePort | None
    metrics: Metrics
    timestamper: Callable[[bytes], bytes] | None = None  # digest -> RFC 3161 token (DER)
    extra: dict[str, Any] = field(default_factory=dict)

    def close(self) -> None:
        closer = getattr(self.licenses, "close", None)
        if callable(closer):
            closer()
        self.writer.close()
        self.db.dispose()


def make_limiter(settings: Settings, *, clock: Callable[[], float] | None = None) -> RateLimiter:
    api = settings.api
    if api.rate_limit_backend == "redis":
        return RedisRateLimiter(
            api.redis_url, api.rate_limit_per_s, api.rate_limit_burst, clock=clock or time.time
        )
    return MemoryRateLimiter(api.rate_limit_per_s, api.rate_limit_burst, clock=clock or time.monotonic)


def build_services(
    settings: Settings,
    *,
    licenses: LicensePort | None = None,
    limiter: RateLimiter | None = None,
    clock: Callable[[], float] = time.time,
    db: Database | None = None,
) -> Services:
    database = db or open_database(settings)
    ks = keystore(settings)
    tokens = TokenService(
        ks.token_signer,
        ks.token_public_keys,
        audience=settings.api.audience,
        ttl_s=settings.api.token_ttl_s,
        clock=clock,
    )
    pseudonym_key = ks.datakeys.current(PSEUDONYM_PURPOSE).key
    writer = GroupCommitWriter(
        database, linger_s=settings.api.ledger_linger_ms / 1000.0, name="use-ledger"
    ).start()
    if licenses is None:
        licenses = default_license_port(settings, database)
        if licenses is not None and settings.api.license_cache_refresh_s > 0:
            licenses = CachedLicensePort(
                licenses, database, refresh_s=settings.api.license_cache_refresh_s
            ).start()
    return Services(
        settings=settings,
        db=database,
        tokens=tokens,
        principals=PrincipalCache(database, settings.api.client_cache_s),
        limiter=limiter or make_limiter(settings),
        writer=writer,
        uses=UseRecorder(writer, pseudonym_key),
        licenses=licenses,
        metrics=Metrics(writer, licenses if isinstance(licenses, CachedLicensePort) else None),
    )


def default_license_port(settings: Settings, db: Database) -> LicensePort | None:
    """The port over the ``licenses`` package, when it is available in this build."""
    try:
        from gateway.licensing import LicensesAdapter
    except ImportError:
        return None
    port: LicensePort = LicensesAdapter(settings, db)
    return port
