"""A group-commit batch on PostgreSQL in two round trips (the ledger writer's fast path).

The portable path (:func:`core.ledger.append_rows` on a SQLAlchemy connection) sends BEGIN, one
statement per step and COMMIT: six or seven round trips per batch, each with its statement
overhead. This module does the same work on the writer's own psycopg2 connection (autocommit, so
the driver sends no BEGIN of its own):

1. ``BEGIN; INSERT INTO ledger_heads … ON CONFLICT DO UPDATE … RETURNING`` — every stream of the
   batch in one statement, in stream order (rows are locked in that order, so two writers never
   deadlock), returning each head;
2. ``INSERT`` the chained entries; ``UPDATE`` the heads from a ``VALUES`` list; ``INSERT`` the
   derived rows (index rows and the like); ``COMMIT`` — one string, one round trip.

psycopg2 binds parameters on the client (``mogrify``), so the statements are sent as one simple
query; if any of them fails the server skips the rest, the COMMIT included, and the caller drops
the connection. Success therefore means the whole batch is durably committed. The hashes are the
ledger's own (:func:`core.ledger.chain_rows`), so chains written by either path verify alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from psycopg2 import sql
from sqlalchemy import Table

from core.ledger import ENTRIES, GENESIS, HEADS, chain_rows

_ENTRY_COLS = ("stream", "seq", "kind", "created_at", "payload", "prev_hash", "entry_hash")


def _insert_sql(cur: Any, table: Table, rows: Sequence[Mapping[str, Any]]) -> bytes:
    cols = list(rows[0])
    unknown = [c for c in cols if c not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {unknown[0]!r}")
    for row in rows:
        if list(row) != cols:
            raise ValueError(f"rows for {table.name} must all have the same columns")
    head = sql.SQL("INSERT INTO {} ({}) VALUES ").format(
        sql.Identifier(table.name), sql.SQL(",").join(sql.Identifier(c) for c in cols)
    )
    placeholder = "(" + ",".join(["%s"] * len(cols)) + ")"
    values = b",".join(cur.mogrify(placeholder, tuple(row[c] for c in cols)) for row in rows)
    text: str = head.as_string(cur)
    return text.encode() + values


Derive = Callable[[Mapping[str, list[dict[str, Any]]]], Mapping[Table, Sequence[Mapping[str, Any]]]]


def write_batch(
    raw: Any,
    entries: Mapping[str, Sequence[tuple[str, str]]],
    derive: Derive,
    *,
    created: str,
) -> dict[str, list[dict[str, Any]]]:
    """Append ``{stream: [(kind, payload text)]}`` and what ``derive`` makes of the chained rows.

    Committed in two round trips. ``raw`` is a psycopg2 connection in autocommit mode that nothing
    else uses. Returns the rows written per stream (every column but ``id``). Raises the driver's
    error when anything fails; the connection must then be discarded.
    """
    streams = sorted(entries)
    if not streams:
        return {}
    with raw.cursor() as cur:
        heads_table = sql.Identifier(HEADS.name).as_string(cur).encode()
        heads_values = b",".join(cur.mogrify("(%s,0,%s)", (s, GENESIS)) for s in streams)
        cur.execute(
            b"BEGIN; INSERT INTO "
            + heads_table
            + b" (stream, seq, head_hash) VALUES "
            + heads_values
            + b" ON CONFLICT (stream) DO UPDATE SET seq = "
            + heads_table
            + b".seq"
            + b" RETURNING stream, seq, head_hash"
        )
        heads = {str(s): (int(q), str(h)) for s, q, h in cur.fetchall()}
        out = {s: chain_rows(s, *heads[s], entries[s], created=created) for s in streams}
        all_rows = [row for s in streams for row in out[s]]
        parts = [_insert_sql(cur, ENTRIES, [{c: r[c] for c in _ENTRY_COLS} for r in all_rows])]
        moved = b",".join(
            cur.mogrify("(%s,%s,%s)", (s, out[s][-1]["seq"], out[s][-1]["entry_hash"])) for s in streams
        )
        parts.append(
            b"UPDATE "
            + heads_table
            + b" AS h SET seq = v.seq, head_hash = v.head_hash FROM (VALUES "
            + moved
            + b") AS v(stream, seq, head_hash) WHERE h.stream = v.stream"
        )
        for table, rows in derive(out).items():
            if rows:
                parts.append(_insert_sql(cur, table, rows))
        parts.append(b"COMMIT")
        cur.execute(b"; ".join(parts))
    return out
