"""XML hardening: replies with a DTD, entity declarations or external references are refused.

Two layers: :func:`check_prolog` scans the bytes before the root element (a document type
declaration can only stand there, and entity declarations only inside it) and raises
:class:`~connectors.errors.XmlAttack` with a clear message before any parser sees the body; zeep
then parses with ``forbid_dtd``, ``forbid_entities`` and ``forbid_external`` set and
``huge_tree`` off (see :func:`connectors.soap.hardened_settings`), so a document that slipped
past the scan (another encoding) is still refused. :func:`safe_parser` is the lxml parser for any
other XML we read.
"""

from __future__ import annotations

import re

from lxml import etree

from connectors.errors import XmlAttack

_PROLOG_MAX = 64 * 1024
_ROOT = re.compile(rb"<(?![?!])")


def check_prolog(body: bytes, *, peer: str | None = None, operation: str | None = None) -> None:
    """Raise :class:`XmlAttack` when the document declares a DTD or entities before its root."""
    head = body[:_PROLOG_MAX]
    m = _ROOT.search(head)
    prolog = head[: m.start()] if m else head
    if b"<!ENTITY" in prolog:
        kind = "an external entity" if b"SYSTEM" in prolog or b"PUBLIC" in prolog else "entity declarations"
        raise XmlAttack(
            f"reply refused: it declares {kind} (entity expansion / XXE); DTDs and entities are forbidden",
            peer=peer,
            operation=operation,
        )
    if b"<!DOCTYPE" in prolog:
        raise XmlAttack(
            "reply refused: it carries a document type declaration (DTD); DTDs are forbidden",
            peer=peer,
            operation=operation,
        )


def safe_parser() -> etree.XMLParser:
    """An lxml parser that resolves nothing, loads nothing and refuses huge trees."""
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )
