"""DDL of the province's exchange tables (前置库), one table per case table, generated from the field table.

Columns keep the wire format of the field table: strings as ``VARCHAR(length)``, integers as
``INTEGER``, dates as ``VARCHAR(10)`` (``YYYY-MM-DD``) and timestamps as ``VARCHAR(32)`` (ISO 8601
with offset), so a row read back equals the row written. Each table has a surrogate ``ex_id``
(insertion order) and a unique ``row_guid``. The province's ETL reads and empties these tables;
the writer never relies on them to remember what it delivered.
"""

from __future__ import annotations

from contracts.fields import CASE_TABLES, TABLES, FieldSpec


def column_sql(f: FieldSpec) -> str:
    if f.type == "integer":
        typ = "INTEGER"
    elif f.type == "date":
        typ = "VARCHAR(10)"
    elif f.type == "timestamp":
        typ = "VARCHAR(32)"
    else:
        typ = f"VARCHAR({f.length or 4000})"
    return f"    {f.name} {typ}{' NOT NULL' if f.required else ''}"


def exchange_ddl() -> str:
    """``CREATE TABLE`` statements for every case table (PostgreSQL; portable SQL apart from BIGSERIAL)."""
    out = [
        "-- Exchange tables (前置库) of the provincial platform.",
        "-- Generated from contracts.fields (contracts/wire/ddl.py); do not edit.",
    ]
    for name in CASE_TABLES:
        spec = TABLES[name]
        cols = ["    ex_id BIGSERIAL PRIMARY KEY", *(column_sql(f) for f in spec.fields)]
        out.append(f"-- {spec.label}: {spec.description}")
        out.append(
            f"CREATE TABLE IF NOT EXISTS {name} (\n"
            + ",\n".join(cols)
            + f",\n    CONSTRAINT uq_{name}_row_guid UNIQUE (row_guid)\n);"
        )
    return "\n".join(out) + "\n"
