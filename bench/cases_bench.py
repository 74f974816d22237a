"""Cases benchmark: report intake under concurrent load, and KPIs over a year of cases.

1. Intake. uvicorn (one process) on loopback, driven by a minimal asyncio HTTP/1.1 keep-alive
   client (as in ``bench/api_bench.py``) with N concurrent connections, each POSTing Open311
   reports (form-encoded, ``api_key``, a service code, a building's lat/long in the demo
   county). Peer in the same run: a bare FastAPI endpoint that parses the same form and INSERTs
   the same ``cases`` row with one plain SQL statement (no key check, routing, duplicate search,
   timers, event log or audit). Printed: accepted reports/s, p50/p99, and the ratio. "Nothing
   lost": after each run every answered ``service_request_id`` is looked up and the rows are
   counted: accepted answers == new rows, or the run fails.
2. KPIs. A year of demo cases at 老河口 scale (``yitu.cases.demo``, 1,000 a month) with their
   events; ``kpi.compute`` (one SQL statement) by township, department and grid against the
   naive peer: read every event and loop over them in Python (``kpi.reference_counts``, the same
   formulas). Both answers are compared; printed: seconds and the ratio.

    .venv/bin/python bench/cases_bench.py [--seconds 8] [--concurrency 16] [--per-month 1000]
    .venv/bin/python bench/cases_bench.py --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

With a PostgreSQL URL a fresh database is created next to the given one and dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request  # module level: the endpoint's annotations resolve here
from fastapi.responses import Response
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.engine import make_url

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(db_url: str, data_dir: Path) -> Any:
    from yitu.core.settings import Settings

    return Settings(database_url=db_url, data_dir=data_dir, _env_file=None)


def seed(db_url: str, data_dir: Path) -> tuple[str, list[tuple[float, float]]]:
    """Migrate, load the small demo county (boundaries for routing), the category dictionary and
    an Open311 key; return the key and building points to report at."""
    from sqlalchemy import select

    from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
    from yitu.cases import catalog, open311
    from yitu.core.migrate import upgrade
    from yitu.demo.cli import run
    from yitu.registry.models import Building
    from yitu.runtime import Platform

    upgrade(db_url)
    platform = Platform.build(_settings(db_url, data_dir))
    run(platform, "small", 1, replace=False, progress=False)
    with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        catalog.seed(s, NOW - timedelta(days=400))
        key = open311.issue_key(s, "bench", "bench", NOW)
        points = [(float(lon), float(lat)) for lon, lat in s.execute(
            select(Building.lon, Building.lat).order_by(Building.id).limit(2000))]
    platform.db.dispose()
    return key, points


def serve_platform(db_url: str, data_dir: str, port: int) -> None:
    import logging

    import uvicorn

    from yitu.api.app import create_app
    from yitu.core.logs import configure_logging
    from yitu.runtime import Platform

    configure_logging("INFO")  # request lines with ids, as `yitu serve` writes them …
    handler = logging.FileHandler(Path(data_dir) / "serve.log")  # … to a file
    handler.setFormatter(logging.getLogger().handlers[0].formatter)
    for f in logging.getLogger().handlers[0].filters:  # request ids, redaction
        handler.addFilter(f)
    logging.getLogger().handlers[:] = [handler]
    app = create_app(Platform.build(_settings(db_url, Path(data_dir))))
    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_config=None,
                log_level="warning")


def bare_app(db_url: str) -> Any:
    """The naive peer: parse the same form, INSERT the same cases row, answer its number."""
    import itertools

    from sqlalchemy import insert, select

    from yitu.access.models import JurisdictionNode
    from yitu.cases.models import Case, Category
    from yitu.core.db import make_engine

    engine = make_engine(db_url)
    with engine.connect() as conn:
        category = conn.execute(select(Category.id, Category.code).where(
            Category.code == "E0102", Category.valid_to.is_(None))).one()
        grid = conn.execute(select(JurisdictionNode.id, JurisdictionNode.parent_id).where(
            JurisdictionNode.level == "grid").limit(1)).one()
        town = conn.scalar(select(JurisdictionNode.parent_id).where(
            JurisdictionNode.id == grid.parent_id))
    serial = itertools.count(1)
    run = uuid.uuid4().hex[:6]
    app = FastAPI()

    @app.post("/requests.json")
    async def create(request: Request) -> Response:
        form = await request.form()
        now = datetime.now(UTC)
        number = f"B{run}{next(serial):08d}"
        with engine.begin() as conn:  # inline on the loop: the cheapest way to run it
            conn.execute(insert(Case).values(
                number=number, category_id=category.id, category_code=category.code,
                kind="event", title="市容环境/暴露垃圾", description=str(form["description"]),
                address_text="", state="reported", source="open311", urgent=False,
                lon=float(form["long"]), lat=float(form["lat"]), code=0, code3d="",
                node_id=grid.id, township_id=town, reporter_name="", reporter_phone="",
                reporter_email="", deadlines={}, warning_level="none", repeat_count=0,
                rework_count=0, return_count=0, extension_count=0, supervision_count=0,
                last_seq=0, created_at=now, updated_at=now, row_version=1,
            ))
        body = json.dumps([{"service_request_id": number}]).encode()
        return Response(body, media_type="application/json")

    return app


def serve_bare_insert(db_url: str, port: int) -> None:
    import uvicorn

    uvicorn.run(bare_app(db_url), host="127.0.0.1", port=port, access_log=False,
                log_level="warning")


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up")


async def _connection(
    port: int, requests: list[bytes], offset: int, stop_at: float, latencies: list[float],
    numbers: list[str],
) -> int:
    """One keep-alive connection POSTing back to back; returns the count of non-200 answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    i = offset
    try:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status == 200:
                numbers.append(json.loads(body)[0]["service_request_id"])
            else:
                errors += 1
    finally:
        writer.close()
    return errors


def _requests(path: str, key: str, points: list[tuple[float, float]]) -> list[bytes]:
    out = []
    for n, (lon, lat) in enumerate(points):
        body = urlencode({
            "api_key": key, "service_code": "E0102", "lat": f"{lat:.7f}", "long": f"{lon:.7f}",
            "description": f"路边有暴露垃圾 #{n}", "first_name": "三", "last_name": "张",
        }).encode()
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        out.append(head + body)
    return out


async def _load(port: int, requests: list[bytes], seconds: float, concurrency: int) -> Any:
    latencies: list[float] = []
    numbers: list[str] = []
    started = time.perf_counter()
    stop_at = started + seconds
    errors = await asyncio.gather(*(
        _connection(port, requests, k * 97, stop_at, latencies, numbers)
        for k in range(concurrency)
    ))
    return sum(errors), latencies, numbers, time.perf_counter() - started


def _count_rows(db_url: str, numbers: list[str]) -> tuple[int, int]:
    """(rows whose number was answered, all open311 rows) — nothing lost, nothing extra."""
    engine = create_engine(db_url)
    with engine.connect() as conn:
        found = 0
        for start in range(0, len(numbers), 500):
            chunk = numbers[start:start + 500]
            query = text("SELECT count(*) FROM cases WHERE number IN :n").bindparams(
                bindparam("n", expanding=True))
            found += int(conn.execute(query, {"n": chunk}).scalar_one())
        total = int(conn.execute(
            text("SELECT count(*) FROM cases WHERE source = 'open311'")).scalar_one())
    engine.dispose()
    return found, total


def intake(name: str, port: int, requests: list[bytes], db_url: str,
           args: argparse.Namespace) -> dict[str, Any]:
    asyncio.run(_load(port, requests, 1.0, args.concurrency))  # warm-up
    _, before_total = _count_rows(db_url, [])
    errors, lat, numbers, elapsed = asyncio.run(
        _load(port, requests, args.seconds, args.concurrency))
    if errors:
        raise RuntimeError(f"{name}: {errors} non-200 answers")
    found, total = _count_rows(db_url, numbers)
    lost = len(numbers) - found
    extra = total - before_total - len(numbers)
    if lost or extra or len(set(numbers)) != len(numbers):
        raise RuntimeError(f"{name}: {lost} accepted reports missing, {extra} rows unaccounted")
    lat.sort()
    return {
        "name": name, "accepted": len(numbers), "rps": len(numbers) / elapsed,
        "p50_ms": statistics.median(lat) * 1000, "p99_ms": lat[int(len(lat) * 0.99) - 1] * 1000,
        "in_db": found,
    }


def run_intake(db_url: str, data_dir: Path, key: str, points: list[tuple[float, float]],
               args: argparse.Namespace) -> list[dict[str, Any]]:
    ctx = mp.get_context("spawn")
    results = []
    for name, target, extra, path, health in (
        ("bare FastAPI insert", serve_bare_insert, (db_url,), "/requests.json", "/docs"),
        ("yitu Open311 POST", serve_platform, (db_url, str(data_dir)),
         "/open311/v2/requests.json", "/api/v1/health"),
    ):
        port = _free_port()
        proc = ctx.Process(target=target, args=(*extra, port), daemon=True)
        proc.start()
        try:
            _wait_up(f"http://127.0.0.1:{port}{health}")
            results.append(intake(name, port, _requests(path, key, points), db_url, args))
        finally:
            proc.terminate()
            proc.join()
    return results


def run_kpi(db_url: str, data_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    from sqlalchemy import select

    from yitu.access.scope import UNRESTRICTED
    from yitu.cases import demo, kpi
    from yitu.cases.models import Case, CaseEvent
    from yitu.core.db import Database

    db = Database(db_url)
    t0 = time.perf_counter()
    counts = demo.generate(db, months=12, seed=1, now=NOW, per_month=args.per_month)
    generated_s = time.perf_counter() - t0
    start, end = NOW - timedelta(days=365), NOW
    out: dict[str, Any] = {"generated": counts, "generate_s": generated_s, "by": {}}
    for by in ("township", "department", "grid"):
        column = {"township": Case.township_id, "department": Case.department_id,
                  "grid": Case.node_id}[by]
        sql_s, loop_s = [], []
        for _ in range(args.repeat):
            t = time.perf_counter()
            with db.engine.connect() as conn:
                report = kpi.compute(conn, start, end, by, UNRESTRICTED)
            sql_s.append(time.perf_counter() - t)
            t = time.perf_counter()
            with db.engine.connect() as conn:
                keys = {cid: key for cid, key in conn.execute(select(Case.id, column))}
                events = conn.execute(select(
                    CaseEvent.case_id, CaseEvent.at, CaseEvent.action, CaseEvent.data)).all()
            loop = kpi.reference_counts(events, keys, start, end)
            loop_s.append(time.perf_counter() - t)
        if {r.key: r.counts for r in report.rows} != loop:
            raise RuntimeError(f"KPI by {by}: SQL and loop disagree")
        out["by"][by] = {"sql_s": min(sql_s), "loop_s": min(loop_s), "groups": len(report.rows),
                         "on_time": report.total.rates["on_time_handling_rate"]}
    db.dispose()
    return out


def _fresh_pg(base: str) -> tuple[str, str]:
    name = f"yitu_cases_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(base).set(database=name).render_as_string(hide_password=False), name


def _drop_pg(base: str, name: str) -> None:
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-month", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--database-url", default="", help="default: a fresh embedded SQLite")
    parser.add_argument("--skip-kpi", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("YITU_AUDIT_KEY", "bench-audit-key-0123456789abcdef")
    with tempfile.TemporaryDirectory(prefix="yitu-cases-bench-") as tmp:
        data_dir = Path(tmp)
        pg_name = ""
        if args.database_url.startswith("postgresql"):
            db_url, pg_name = _fresh_pg(args.database_url)
        else:
            db_url = args.database_url or f"sqlite:///{data_dir / 'yitu.db'}"
        dialect = make_url(db_url).get_backend_name()
        try:
            key, points = seed(db_url, data_dir)
            results = run_intake(db_url, data_dir, key, points, args)
            kpis = None if args.skip_kpi else run_kpi(db_url, data_dir, args)
        finally:
            if pg_name:
                _drop_pg(args.database_url, pg_name)
    print(f"cases benchmark: {dialect}, {args.concurrency} connections, {args.seconds:g} s each")
    print(f"{'intake':<22}{'accepted':>10}{'reports/s':>11}{'p50 ms':>9}{'p99 ms':>9}"
          f"{'in DB':>8}")
    for r in results:
        print(f"{r['name']:<22}{r['accepted']:>10}{r['rps']:>11.1f}{r['p50_ms']:>9.1f}"
              f"{r['p99_ms']:>9.1f}{r['in_db']:>8}")
    bare, mine = results
    print(f"ratio yitu / bare insert: {mine['rps'] / bare['rps']:.2f} "
          "(every accepted report found in the database, none extra)")
    if kpis:
        g = kpis["generated"]
        print(f"KPI over a year: {g['cases']} cases, {g['events']} events "
              f"(generated in {kpis['generate_s']:.1f} s)")
        print(f"{'by':<12}{'groups':>7}{'SQL s':>9}{'loop s':>9}{'loop/SQL':>10}{'按期处置率':>12}")
        for by, r in kpis["by"].items():
            print(f"{by:<12}{r['groups']:>7}{r['sql_s']:>9.3f}{r['loop_s']:>9.3f}"
                  f"{r['loop_s'] / r['sql_s']:>10.1f}{r['on_time'] * 100:>11.1f}%")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
