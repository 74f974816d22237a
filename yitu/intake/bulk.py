"""Bulk writes inside a caller's transaction: many rows in few round trips, on SQLite and
PostgreSQL alike."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Select, Table, func, select, text


def _scalar_defaults(table: Table) -> dict[str, Any]:
    return {
        c.name: c.default.arg
        for c in table.columns
        if c.default is not None and c.default.is_scalar
    }


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts; a key a row lacks takes the column's scalar default, else NULL)
    in the connection's transaction, through the driver: PostgreSQL by COPY (several times
    faster than multi-row INSERTs for 10⁴ rows), SQLite by one prepared INSERT run for
    tuples. SQLAlchemy's own executemany spent more time building each row's parameters
    (~30 µs for an ``intake_records`` row) than SQLite spent inserting it."""
    if not rows:
        return
    # Neither path applies SQLAlchemy's Python-side column defaults: fill them in.
    defaults = _scalar_defaults(table)
    columns = list(dict.fromkeys([*(k for row in rows for k in row), *defaults]))
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c) for c in columns)
    driver = conn.connection.driver_connection
    assert driver is not None
    if conn.dialect.name == "postgresql":
        with driver.cursor() as cur, cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([row.get(c, defaults.get(c)) for c in columns])
        return
    # The columns' bind processors (dates as ISO text, UTC normalisation) as SQLAlchemy's
    # executemany would apply them.
    processors = [
        (i, proc)
        for i, c in enumerate(columns)
        if (proc := table.c[c].type.bind_processor(conn.dialect)) is not None
    ]
    fill = [(c, defaults.get(c)) for c in columns]
    values = []
    for row in rows:
        v = [row.get(c, d) for c, d in fill]
        for i, proc in processors:
            v[i] = proc(v[i])
        values.append(v)
    marks = ", ".join("?" * len(columns))
    cur = driver.cursor()
    try:
        cur.executemany(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", values)
    finally:
        cur.close()


def driver_rows(
    conn: Connection, query: Select[Any], chunk: int = 50_000
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``query`` as the driver's plain tuples, ``chunk`` at a time, through its own
    cursor in the connection's transaction: for reads of a county's million records, where a
    SQLAlchemy row per record costs more than the query."""
    sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    driver = conn.connection.driver_connection
    assert driver is not None
    cur = driver.cursor()
    try:
        cur.execute(sql)
        while rows := cur.fetchmany(chunk):
            yield rows
    finally:
        cur.close()


def reserve_ids(conn: Connection, table: Table, n: int) -> list[int]:
    """``n`` new primary key values for ``table``, so its rows can be inserted with their ids
    in one bulk write (``INSERT … RETURNING`` in parameter order runs one statement per row on
    SQLite: 423 000 statements for a county's people). PostgreSQL: drawn from the column's
    sequence. SQLite: after the largest id — the caller's transaction must already hold the
    write lock (have written), so no other writer can take them meanwhile."""
    if n <= 0:
        return []
    pk = table.primary_key.columns.values()[0]
    if conn.dialect.name == "postgresql":
        return list(
            conn.execute(
                text(
                    "SELECT nextval(pg_get_serial_sequence(:table, :column)) "
                    "FROM generate_series(1, :n)"
                ),
                {"table": table.name, "column": pk.name, "n": n},
            ).scalars()
        )
    assert conn.in_transaction()
    top = conn.execute(select(func.coalesce(func.max(pk), 0))).scalar_one()
    return list(range(top + 1, top + 1 + n))


def bulk_update(
    conn: Connection,
    table: Table,
    key: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
) -> None:
    """Set ``columns`` on the rows of ``table`` named by ``key``: each of ``rows`` is the new
    values in ``columns`` order, then the key's value, as the driver takes them (no column
    type processing: plain ints and strings). In the connection's transaction, through the
    driver. SQLite: one prepared UPDATE run for tuples. PostgreSQL: the values
    copied into a temporary table and one ``UPDATE … FROM`` (a million single-row UPDATEs
    sent one by one took the linkage most of its decision step there)."""
    quote = conn.dialect.identifier_preparer.quote
    driver = conn.connection.driver_connection
    assert driver is not None
    name = quote(table.name)
    if conn.dialect.name == "postgresql":
        staged = quote(f"_bulk_{table.name}")
        names = ", ".join(quote(c) for c in (*columns, key))
        sets = ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
        with driver.cursor() as cur:
            cur.execute(f"CREATE TEMP TABLE {staged} AS SELECT {names} FROM {name} WITH NO DATA")
            with cur.copy(f"COPY {staged} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                f"UPDATE {name} AS t SET {sets} FROM {staged} AS s "
                f"WHERE t.{quote(key)} = s.{quote(key)}"
            )
            cur.execute(f"DROP TABLE {staged}")
        return
    sets = ", ".join(f"{quote(c)} = ?" for c in columns)
    cur = driver.cursor()
    try:
        cur.executemany(f"UPDATE {name} SET {sets} WHERE {quote(key)} = ?", rows)
    finally:
        cur.close()


def refresh_statistics(conn: Connection, tables: Sequence[Table]) -> None:
    """After bulk writes, PostgreSQL: ``ANALYZE`` the tables, so the statements that follow are
    planned for their present size (autovacuum analyses a table some time after a load, or
    never where it is off; an import's next file and the linkage come at once). SQLite plans
    without statistics unless asked to keep them: nothing to do."""
    if conn.dialect.name != "postgresql":
        return
    quote = conn.dialect.identifier_preparer.quote
    for table in tables:
        conn.exec_driver_sql(f"ANALYZE {quote(table.name)}")


BULK_CACHE_MIB = 512


@contextmanager
def bulk_page_cache(conn: Connection, mib: int = BULK_CACHE_MIB) -> Iterator[None]:
    """SQLite: a page cache of ``mib`` MiB on this connection for the block (SQLite's default
    is 2 MiB), the previous size restored after it. Bulk writes put rows at random places of
    county-sized indexes (a record's row key, a relation's person, house and grid code); with
    the default cache nearly every such page is read again from the OS for each batch. The
    cache survives the block's transactions because no other connection writes in between.
    Measured on a county's first relations file: writes 37.3 s with the default, 34.8 s with
    64 MiB, 32.0–33.3 s with 256 MiB, 32.3 s with 1 GiB; the linkage's decision (one
    transaction rewriting 1.15 M records) 43.3 s with 256 MiB, 37.6 s with 512 MiB, 36.5 s
    with 1 GiB. PostgreSQL: nothing (the server's shared buffers). Leaves no transaction
    open."""
    sqlite = conn.dialect.name == "sqlite"
    before = 0
    if sqlite:
        before = int(conn.exec_driver_sql("PRAGMA cache_size").scalar_one())
        conn.exec_driver_sql(f"PRAGMA cache_size=-{int(mib) * 1024}")
        conn.commit()  # SQLAlchemy began a transaction for the pragma: the block begins its own
    try:
        yield
    finally:
        if conn.in_transaction():  # the block failed (or left work uncommitted): not kept
            conn.rollback()
        if sqlite:
            conn.exec_driver_sql(f"PRAGMA cache_size={before}")
            conn.commit()
