"""Which database columns are sealed, how their rows are keyed, and the machinery around them.

Every column listed in :data:`SEALED` holds a :mod:`core.fieldcrypt` token (``enc1.<kid>.…``),
never plaintext: the whole value is one AES-256-GCM token (a case row, a payload, a document) —
one AEAD call per value, and free-text fields that may carry an identifier (办理意见, a vendor's
extra column, a quarantined line that did not even parse) are covered with the rest. The associated
data is ``table | column | row key`` with the row key made of :attr:`SealedColumn.key` columns, so a
token copied to another row or column does not open.

Where the code needs equality on a sealed value it compares a **blind index** column
(:data:`BLIND`): ``FieldCrypt.blind`` under its own key.

How the packages use it:

* a :class:`~core.db.Database` carries the :class:`FieldCrypt` of its settings
  (:func:`core.runtime.open_database`); every session it makes has it in ``session.info`` —
  :func:`crypt_of` finds it, and refuses (``FIELD_CRYPT_MISSING``) to guess when it is not there;
* writers seal with :func:`seal_value` (bulk paths: ``crypt_of(session).seal`` directly);
* ORM models registered with :func:`unseal_on_load` see plaintext attributes after a load (set as
  the committed value: an unrelated change does not write it back); column selects and driver SQL
  open with :func:`open_value`;
* :func:`seal_existing` (Alembic ``0010``) seals rows written before sealing existed, and
  :func:`reseal_existing` (``tongban keys rotate-data-key``) moves every token to the current field
  key — both in batches that commit one by one, both resumable: the ``WHERE`` clause selects only
  what is still to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core import failpoints
from core.errors import ConfigError
from core.fieldcrypt import PREFIX, FieldCrypt, is_sealed

AFTER_BATCH = failpoints.declare(
    "sealing.after_batch", "a batch of sealed or re-sealed values committed, the loop not done"
)


@dataclass(frozen=True)
class SealedColumn:
    table: str
    column: str
    key: tuple[str, ...]  # the columns whose values make the row key of the associated data
    pk: str = "id"  # the column the batch loops page by


SEALED: tuple[SealedColumn, ...] = (
    SealedColumn("case_rows", "data", ("row_guid",)),
    SealedColumn("case_held", "data", ("row_guid",)),
    SealedColumn("case_quarantine", "raw", ("batch_hash", "line")),
    SealedColumn("licenses", "holder_name", ("license_id",)),
    SealedColumn("licenses", "holder_code", ("license_id",)),
    SealedColumn("licenses", "metadata_json", ("license_id",)),
    SealedColumn("license_holders", "name", ("license_pk", "position")),
    SealedColumn("license_holders", "code", ("license_pk", "position")),
    SealedColumn("domain_events", "payload", ("event_id",)),
    SealedColumn("connector_outbox", "payload", ("peer", "row_guid")),
    SealedColumn("connector_inbound", "payload", ("peer", "row_guid")),
    SealedColumn("flow_approvals", "payload", ("approval_id",), pk="approval_id"),
)

# blind-index column -> (sealed column it indexes, column holding the code type of the kind)
BLIND: Mapping[tuple[str, str], tuple[str, str]] = {
    ("licenses", "holder_bidx"): ("holder_code", "holder_code_type"),
    ("license_holders", "code_bidx"): ("code", "code_type"),
}


def sealed_columns(table: str) -> tuple[SealedColumn, ...]:
    return tuple(c for c in SEALED if c.table == table)


def row_key(*parts: object) -> str:
    """The row key of the associated data: the key columns' values, ``None`` as empty."""
    return "/".join("" if p is None else str(p) for p in parts)


def holder_kind(code_type: str) -> str:
    """The blind-index kind of a holder code (its code type: the same digits as a resident ID and
    as a passport number are different holders)."""
    return f"holder:{code_type}"


UNIQUENESS_KIND = "uniqueness"


def crypt_of(session: Session | Connection) -> FieldCrypt:
    """The :class:`FieldCrypt` of the database a session belongs to."""
    crypt = session.info.get("crypt")
    if crypt is None:
        raise ConfigError(
            "this database session has no field-encryption keys: open the database with "
            "core.runtime.open_database(settings) (or Database(url, crypt=...)), not Database(url)",
            code="FIELD_CRYPT_MISSING",
        )
    assert isinstance(crypt, FieldCrypt)
    return crypt


def seal_value(session: Session | Connection, value: str, table: str, column: str, *key: object) -> str:
    return crypt_of(session).seal(value, table=table, column=column, row_key=row_key(*key))


def open_value(session: Session | Connection, value: str, table: str, column: str, *key: object) -> str:
    return crypt_of(session).open(value, table=table, column=column, row_key=row_key(*key))


# --- ORM: plaintext attributes after a load -----------------------------------------------------

_LOAD_REGISTERED: set[type] = set()


def unseal_on_load(model: type) -> type:
    """Register ``model`` (an ORM class whose table has sealed columns): after a load or refresh,
    its sealed attributes hold the opened value as their committed state (the database keeps the
    token; the attribute is not dirty, so it is written back only when code assigns it — and then
    the writer seals)."""
    from sqlalchemy.orm import object_session
    from sqlalchemy.orm.attributes import set_committed_value

    table = model.__tablename__  # type: ignore[attr-defined]
    cols = sealed_columns(table)
    if not cols or model in _LOAD_REGISTERED:
        return model
    _LOAD_REGISTERED.add(model)

    def _open(target: Any, session: Session | None) -> None:
        if session is None:
            return
        state = target.__dict__
        crypt: FieldCrypt | None = None
        for c in cols:
            v = state.get(c.column)
            if not is_sealed(v):
                continue
            crypt = crypt or crypt_of(session)
            rk = row_key(*(state.get(k) for k in c.key))
            set_committed_value(target, c.column, crypt.open(v, table=table, column=c.column, row_key=rk))

    @event.listens_for(model, "load")
    def _on_load(target: Any, context: Any) -> None:
        _open(target, context.session)

    @event.listens_for(model, "refresh")
    def _on_refresh(target: Any, context: Any, _attrs: Any) -> None:
        _open(target, context.session if context is not None else object_session(target))

    return model


# --- sealing and re-sealing existing rows ---------------------------------------------------------

Progress = Callable[[str, int, int], None]  # (table.columns, done so far, total to do)


def _not_sealed(col: str) -> str:
    return f"({col} IS NOT NULL AND {col} NOT LIKE '{PREFIX}%')"


def _not_under(col: str, kid: str) -> str:
    return f"({col} IS NOT NULL AND {col} NOT LIKE '{PREFIX}{kid}.%')"


def _tables(conn: Connection) -> set[str]:
    from sqlalchemy import inspect

    return set(inspect(conn).get_table_names())


def _grouped() -> Iterator[tuple[str, tuple[SealedColumn, ...]]]:
    seen: list[str] = []
    for c in SEALED:
        if c.table not in seen:
            seen.append(c.table)
    for t in seen:
        yield t, sealed_columns(t)


Derive = Callable[[str, Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]


def _loop(
    conn: Connection,
    crypt: FieldCrypt,
    *,
    predicate: Callable[[str], str],
    transform: Callable[[str, SealedColumn, Any, str], Any],
    derive: Derive | None,
    batch: int,
    progress: Progress | None,
    in_transaction: Callable[[Connection, Callable[[], None]], None],
    extra_columns: Mapping[str, tuple[str, ...]] | None = None,
) -> dict[str, int]:
    done_by_table: dict[str, int] = {}
    present = _tables(conn)
    for table, cols in _grouped():
        if table not in present:
            continue
        pk = cols[0].pk
        where = " OR ".join(predicate(c.column) for c in cols)
        key_cols = sorted({k for c in cols for k in c.key} | {pk})
        wanted = {kt for (t, _b), (_s, kt) in BLIND.items() if t == table}
        wanted |= set((extra_columns or {}).get(table, ()))
        extra = sorted(wanted - set(key_cols) - {c.column for c in cols})
        select_cols = [pk, *[k for k in key_cols if k != pk], *extra, *[c.column for c in cols]]
        total = int(conn.execute(text(f"SELECT COUNT(*) FROM {table} WHERE {where}")).scalar() or 0)  # noqa: S608
        label = f"{table}." + ",".join(c.column for c in cols)
        done = 0
        if progress:
            progress(label, 0, total)
        after: Any = None
        while True:
            cond = where if after is None else f"({where}) AND {pk} > :after"
            rows = [
                dict(r._mapping)
                for r in conn.execute(
                    text(
                        f"SELECT {', '.join(select_cols)} FROM {table} WHERE {cond} "  # noqa: S608
                        f"ORDER BY {pk} LIMIT {int(batch)}"
                    ),
                    {} if after is None else {"after": after},
                )
            ]
            if not rows:
                break
            updates: list[dict[str, Any]] = []
            for r in rows:
                new: dict[str, Any] = {}
                plain: dict[str, Any] = {}
                for c in cols:
                    v = r[c.column]
                    if v is None:
                        continue
                    rk = row_key(*(r[k] for k in c.key))
                    new[c.column], plain[c.column] = transform(table, c, v, rk)
                if derive is not None:
                    new.update(derive(table, r, plain))
                if new:
                    updates.append({"__pk": r[pk], **new})
            by_shape: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for u in updates:
                by_shape.setdefault(tuple(sorted(k for k in u if k != "__pk")), []).append(u)

            def write(
                shapes: dict[tuple[str, ...], list[dict[str, Any]]] = by_shape,
                table: str = table,
                pk: str = pk,
            ) -> None:
                for shape, params in shapes.items():
                    sets = ", ".join(f"{c} = :{c}" for c in shape)
                    conn.execute(text(f"UPDATE {table} SET {sets} WHERE {pk} = :__pk"), params)  # noqa: S608

            in_transaction(conn, write)
            failpoints.hit(AFTER_BATCH)
            done += len(rows)
            after = rows[-1][pk]
            if progress:
                progress(label, done, total)
        done_by_table[label] = done
    return done_by_table


def _blind_for(
    crypt: FieldCrypt, table: str, row: Mapping[str, Any], plain: Mapping[str, Any]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for (t, bcol), (scol, kind_col) in BLIND.items():
        if t == table and scol in plain:
            out[bcol] = crypt.blind(str(plain[scol]), kind=holder_kind(str(row[kind_col])))
    return out


def _plain_tx(conn: Connection, fn: Callable[[], None]) -> None:
    """One batch in its own transaction: on a plain connection the batch's selects began one
    (autobegin), which this commits with the batch's updates; else it begins one. Not for a
    connection in autocommit (Alembic's ``autocommit_block``): there every statement commits on
    its own, and committing its placeholder transaction breaks the block."""
    if conn.in_transaction():
        fn()
        conn.commit()
        return
    with conn.begin():
        fn()


def seal_existing(
    conn: Connection,
    crypt: FieldCrypt,
    *,
    batch: int = 500,
    progress: Progress | None = None,
    derive: Derive | None = None,
    extra_columns: Mapping[str, tuple[str, ...]] | None = None,
    in_transaction: Callable[[Connection, Callable[[], None]], None] = _plain_tx,
) -> dict[str, int]:
    """Seal every value of a :data:`SEALED` column that is still plaintext, and set its blind
    indexes; ``derive(table, row, plaintexts)`` adds more columns to a row's update (the
    migration's uniqueness hashes). Resumable: sealed values are skipped."""

    def transform(table: str, c: SealedColumn, v: Any, rk: str) -> tuple[str, str]:
        if is_sealed(v):
            return v, crypt.open(v, table=table, column=c.column, row_key=rk)
        return crypt.seal(str(v), table=table, column=c.column, row_key=rk), str(v)

    def derived(table: str, row: Mapping[str, Any], plain: Mapping[str, Any]) -> dict[str, Any]:
        out = _blind_for(crypt, table, row, plain)
        if derive is not None:
            out.update(derive(table, row, plain))
        return out

    return _loop(
        conn,
        crypt,
        predicate=_not_sealed,
        transform=transform,
        derive=derived,
        batch=batch,
        progress=progress,
        in_transaction=in_transaction,
        extra_columns=extra_columns,
    )


def reseal_existing(
    conn: Connection,
    crypt: FieldCrypt,
    *,
    batch: int = 500,
    progress: Progress | None = None,
    in_transaction: Callable[[Connection, Callable[[], None]], None] = _plain_tx,
) -> dict[str, int]:
    """Move every token of a :data:`SEALED` column to the current field key (key rotation; a
    plaintext value left by an interrupted migration is sealed too). Resumable: values already under
    the current key are skipped. Blind indexes do not change (their key is not rotated here)."""
    kid = crypt.current_key_id()

    def transform(table: str, c: SealedColumn, v: Any, rk: str) -> tuple[str, str]:
        if is_sealed(v):
            if crypt.key_id_of(v) == kid:
                return v, ""
            plain = crypt.open(v, table=table, column=c.column, row_key=rk)
        else:
            plain = str(v)
        return crypt.seal(plain, table=table, column=c.column, row_key=rk, key_id=kid), plain

    return _loop(
        conn,
        crypt,
        predicate=lambda col: _not_under(col, kid),
        transform=transform,
        derive=None,
        batch=batch,
        progress=progress,
        in_transaction=in_transaction,
    )


__all__ = [
    "AFTER_BATCH",
    "BLIND",
    "SEALED",
    "UNIQUENESS_KIND",
    "Progress",
    "SealedColumn",
    "crypt_of",
    "holder_kind",
    "open_value",
    "reseal_existing",
    "row_key",
    "seal_existing",
    "seal_value",
    "sealed_columns",
    "unseal_on_load",
]
