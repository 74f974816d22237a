"""Bulk load of a generated county, in one transaction: a crash or an error leaves nothing.

SQLite: the driver's ``executemany`` on plain tuples in 50k-row batches (values pre-formatted as
SQLAlchemy stores them, so ORM reads are unchanged). PostgreSQL: ``COPY … FROM STDIN``.
Ids are assigned here (after the tables' current maximum), so foreign keys need no round trip;
PostgreSQL sequences are moved past them at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, insert, select, text
from sqlalchemy.orm import Session

from yitu.access.jurisdiction import load_divisions
from yitu.access.models import JurisdictionNode, Level
from yitu.access.scope import SCOPE_KEY, UNRESTRICTED, invalidate_scopes
from yitu.core.db import Database
from yitu.core.errors import InvalidInputError
from yitu.demo.generate import REFS, TABLE_ORDER, Demo, geojson
from yitu.registry.cells import fill as fill_cells
from yitu.registry.cells import skip_pending
from yitu.registry.models import NodeBoundary

BATCH = 50_000
Tick = Callable[[str, int, int], None]  # (table, rows done, rows total)


def county_loaded(conn: Connection) -> bool:
    return conn.execute(text("SELECT 1 FROM buildings LIMIT 1")).first() is not None


def _delete_previous(conn: Connection) -> None:
    """Remove a previous demo county: registry rows, the people they hold, boundaries. Grid
    nodes stay (user scopes may point at them); the new county reuses them by code."""
    lo, hi = conn.execute(text("SELECT min(person_id), max(person_id) FROM person_houses")).one()
    for table in (
        "person_orgs",
        "person_houses",
        "organisations",
        "addresses",
        "houses",
        "building_cells",
        "buildings",
        "roads",
        "map_features",
        "node_boundaries",
    ):
        conn.execute(text(f"DELETE FROM {table}"))
    if lo is not None:
        conn.execute(text("DELETE FROM people WHERE id BETWEEN :lo AND :hi"), {"lo": lo, "hi": hi})


def _sqlite_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    return v


def _columns(
    demo: Demo, table: str, base: dict[str, int], node_ids: dict[str, np.ndarray], sqlite: bool
) -> tuple[list[str], list[Sequence[Any]]]:
    cols = demo.tables[table]
    n = demo.count(table)
    names = ["id", *cols]
    data: list[Sequence[Any]] = [range(base[table], base[table] + n)]
    for col, values in cols.items():
        if col == "node_id":
            kind = "town" if table == "roads" else "grid"
            values = node_ids[kind][np.asarray(values)]
        elif (table, col) in REFS:
            offset = base[REFS[(table, col)]]
            if isinstance(values, np.ndarray):
                values = np.where(values >= 0, values + offset, -1).tolist()
                values = [None if v < 0 else v for v in values]
            else:
                values = [None if v is None else v + offset for v in values]  # type: ignore[union-attr]
        if isinstance(values, np.ndarray):
            values = values.tolist()
        if sqlite and values and isinstance(values[0], date):  # type: ignore[index]
            values = [_sqlite_value(v) for v in values]  # type: ignore[union-attr]
        data.append(values)  # type: ignore[arg-type]
    return names, data


def _rows(data: list[Sequence[Any]], start: int, stop: int) -> Iterator[tuple[Any, ...]]:
    return zip(*(d[start:stop] for d in data), strict=True)


def load(
    db: Database,
    demo: Demo,
    replace: bool = False,
    tick: Tick | None = None,
    audit: Callable[[Connection], None] | None = None,
) -> dict[str, int]:
    """Load ``demo`` into ``db``; refuse if a county is there unless ``replace``. ``audit``
    runs last inside the load's transaction (its audit record commits with the load)."""
    sqlite = db.dialect == "sqlite"
    counts: dict[str, int] = {}
    with db.engine.connect() as conn:
        if sqlite:
            conn.exec_driver_sql("PRAGMA cache_size=-262144")  # 256 MiB page cache for the load
            conn.commit()
        with conn.begin():
            if county_loaded(conn):
                if not replace:
                    raise InvalidInputError(
                        "a demo county is already loaded; use --replace to regenerate it"
                    )
                _delete_previous(conn)
            with Session(bind=conn) as session:
                session.info[SCOPE_KEY] = UNRESTRICTED
                load_divisions(session)
                session.flush()
            nodes = {
                code: (nid, path)
                for nid, code, path in conn.execute(
                    select(JurisdictionNode.id, JurisdictionNode.code, JurisdictionNode.path)
                )
            }
            new = [
                {
                    "code": g.code,
                    "name": g.name,
                    "level": Level.GRID.value,
                    "parent_id": nodes[demo.county.villages[g.village].code][0],
                    "path": nodes[demo.county.villages[g.village].code][1] + g.code + "/",
                }
                for g in demo.grids
                if g.code not in nodes
            ]
            if new:
                conn.execute(insert(JurisdictionNode), new)
            nodes = {
                code: (nid, path)
                for nid, code, path in conn.execute(
                    select(JurisdictionNode.id, JurisdictionNode.code, JurisdictionNode.path)
                )
            }
            node_ids = {
                "town": np.array([nodes[t.code][0] for t in demo.county.towns]),
                "village": np.array([nodes[v.code][0] for v in demo.county.villages]),
                "grid": np.array([nodes[g.code][0] for g in demo.grids]),
            }
            conn.execute(text("DELETE FROM node_boundaries"))
            rows = []
            for level, idx, geom in demo.boundaries:
                w, s, e, n = geom.bounds
                rows.append(
                    {
                        "node_id": int(node_ids[level][idx]),
                        "geometry": geojson(geom),
                        "west": w,
                        "south": s,
                        "east": e,
                        "north": n,
                        "area_m2": _area_m2(geom),
                    }
                )
            conn.execute(insert(NodeBoundary), rows)
            counts["grids"] = len(demo.grids)
            counts["node_boundaries"] = len(rows)
            base = {}
            for table in TABLE_ORDER:
                top = conn.execute(text(f"SELECT max(id) FROM {table}")).scalar()
                base[table] = (top or 0) + 1
            skip_pending(conn)  # fill_cells below writes the buildings' cells
            raw = conn.connection.driver_connection
            for table in TABLE_ORDER:
                names, data = _columns(demo, table, base, node_ids, sqlite)
                n = demo.count(table)
                cur = raw.cursor()  # type: ignore[union-attr]
                if sqlite:
                    sql = (
                        f"INSERT INTO {table} ({', '.join(names)}) "
                        f"VALUES ({', '.join('?' * len(names))})"
                    )
                    for start in range(0, n, BATCH):
                        cur.executemany(sql, list(_rows(data, start, start + BATCH)))
                        if tick:
                            tick(table, min(start + BATCH, n), n)
                else:
                    with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                        for start in range(0, n, BATCH):
                            for row in _rows(data, start, start + BATCH):
                                copy.write_row(row)
                            if tick:
                                tick(table, min(start + BATCH, n), n)
                cur.close()
                counts[table] = n
            fill_cells(conn, base["buildings"])  # the level-6 cells of the new buildings
            if not sqlite:
                for table in (*TABLE_ORDER, "jurisdiction_nodes"):
                    conn.execute(
                        text(
                            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                            f"(SELECT max(id) FROM {table}))"
                        )
                    )
            if audit is not None:
                audit(conn)
    invalidate_scopes()
    return counts


def _area_m2(geom: Any) -> float:
    import shapely

    from yitu.demo.geography import KX, KY, LAT0, LON0

    metric = shapely.transform(
        geom, lambda c: np.column_stack([(c[:, 0] - LON0) * KX, (c[:, 1] - LAT0) * KY])
    )
    return round(float(metric.area), 1)
