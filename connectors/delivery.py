"""Deliverers: the outbox's view of a transport (see :class:`connectors.outbox.Deliverer`).

:class:`SoapDeliverer` sends through the province's SOAP service; the exchange-table writer
(:class:`connectors.exchange.ExchangeTableWriter`) writes into the province's 前置库.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from connectors.soap import ProvinceSoapClient, Receipt


class SoapDeliverer:
    """Case rows and catalog events over the province's SOAP operations."""

    def __init__(self, client: ProvinceSoapClient) -> None:
        self.client = client
        self.peer = client.peer

    def send_rows(
        self, batch_id: str, rows: Sequence[tuple[str, dict[str, Any]]], token: int
    ) -> list[Receipt]:
        return self.client.submit_rows(batch_id, rows)

    def send_events(self, batch_id: str, events: Sequence[dict[str, str]], token: int) -> list[Receipt]:
        return self.client.submit_events(batch_id, events)

    def lookup(self, keys: Sequence[str], kind: str) -> set[str]:
        return {k for k, p in self.client.lookup(keys).items() if p.found}

    def counts(self, day_from: str, day_to: str) -> dict[tuple[str, str], int]:
        return self.client.counts(day_from, day_to)

    def close(self) -> None:
        self.client.close()
