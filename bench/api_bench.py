"""API benchmark: the platform's audited read endpoint next to two bare FastAPI peers.

Each server is uvicorn (one process each, all started, measured in turns: interleaved slices,
so load from other work on the machine falls on all of them alike) on loopback, driven by the
same minimal asyncio HTTP/1.1 keep-alive client with the same concurrency. Measured:

- ``yitu audited read``: ``GET /api/v1/people?limit=20`` as a grid worker: bearer-session
  lookup, jurisdiction scope, L1 masking, one HMAC-chained audit record per request, the
  request log line written to a file; embedded SQLite (or ``--database-url``).
- ``bare FastAPI + same SQL``: one plain SQL query for the same 20 rows, returned as JSON.
- ``bare FastAPI, constant``: the same 20-item JSON shape from memory.

Printed: requests/s and p50/p99 latency for each, and yitu's ratios to both peers.

    .venv/bin/python bench/api_bench.py [--seconds 8] [--rounds 4] [--concurrency 16]
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
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

PASSWORD = "Bench-pass-2026"
GRID = "420682001001001"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _settings(db_url: str, data_dir: Path) -> Any:
    from yitu.core.settings import Settings

    return Settings(database_url=db_url, data_dir=data_dir, _env_file=None)


def seed(db_url: str, data_dir: Path, people: int) -> None:
    """Divisions, a grid per village of one town, people spread over them, one grid worker."""
    from sqlalchemy import select

    from yitu.access import users
    from yitu.access.jurisdiction import add_node, load_divisions
    from yitu.access.models import JurisdictionNode, Level
    from yitu.access.roles import Role
    from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
    from yitu.core.migrate import upgrade
    from yitu.people.idnumber import make_id_number
    from yitu.people.models import Person
    from yitu.runtime import Platform

    upgrade(db_url)
    platform = Platform.build(_settings(db_url, data_dir))
    now = datetime.now(UTC)
    with platform.db.session(**{SCOPE_KEY: UNRESTRICTED}) as session:
        load_divisions(session)
        villages = list(
            session.scalars(select(JurisdictionNode).where(JurisdictionNode.level == "village"))
        )
        grids = [
            add_node(session, f"{v.code}001", f"{v.name}第一网格", Level.GRID, v) for v in villages
        ]
        home = next(g for g in grids if g.code == GRID)  # a tenth of everyone: the worker's grid
        for n in range(people):
            birth = date(1940 + n % 60, n % 12 + 1, n % 28 + 1)
            session.add(
                Person(
                    name="张王李赵"[n % 4] + "建国秀英"[n % 4] + "明",
                    gender="M" if n % 2 else "F",
                    id_number=make_id_number("420682", birth, n),
                    phone=f"139{n:08d}",
                    address=f"光化街道小东门社区幸福小区{n % 9 + 1}栋{n % 5 + 1}单元{n % 30 + 1}室",
                    birth_date=birth,
                    node_id=(home if n % 10 == 0 else grids[n % len(grids)]).id,
                    created_at=now,
                )
            )
        users.create_user(
            session,
            platform.clock,
            "bench_gw",
            PASSWORD,
            role=Role.GRID_WORKER,
            scope_codes=[GRID],
            must_change_password=False,
        )
    platform.db.dispose()


def serve_platform(db_url: str, data_dir: str, port: int) -> None:

    import uvicorn

    from yitu.api.app import create_app
    from yitu.core.logs import configure_logging, stop_logging
    from yitu.runtime import Platform

    # Request lines with ids, as `yitu serve` writes them, to a file (not the terminal).
    configure_logging("INFO", Path(data_dir) / "serve.log")
    app = create_app(Platform.build(_settings(db_url, Path(data_dir))))
    uvicorn.run(
        app, host="127.0.0.1", port=port, access_log=False, log_config=None, log_level="warning"
    )
    stop_logging()  # a multiprocessing child exits without running atexit


def serve_bare(port: int) -> None:
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    items = [
        {
            "id": i,
            "node_id": 7,
            "tier": "L1",
            "name": "张*明",
            "id_number": "420***********1234",
            "phone": "139****0001",
            "address": "光化街道小东门社区幸福小区3栋***",
            "gender": "M",
            "age": 70,
            "age_band": None,
            "birth_date": None,
        }
        for i in range(20)
    ]

    @app.get("/people")
    async def people() -> dict[str, Any]:
        return {"items": items, "next_cursor": None}

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def serve_bare_query(db_url: str, port: int) -> None:
    """The same read without the platform: one plain SQL query for the grid's first 20 people,
    returned as JSON. No session, no jurisdiction scope, no masking, no audit."""
    import uvicorn
    from fastapi import FastAPI
    from sqlalchemy import select

    from yitu.access.models import JurisdictionNode
    from yitu.core.db import make_engine
    from yitu.people.models import Person

    engine = make_engine(db_url)
    with engine.connect() as conn:
        grid_id = conn.scalar(select(JurisdictionNode.id).where(JurisdictionNode.code == GRID))
    query = (
        select(Person.__table__)
        .where(Person.__table__.c.node_id == grid_id)
        .order_by(Person.__table__.c.id)
        .limit(20)
    )
    app = FastAPI()

    @app.get("/people")
    async def people() -> dict[str, Any]:
        with engine.connect() as conn:  # inline on the loop: the cheapest way to run it
            rows = conn.execute(query).mappings().all()
        items = [
            {
                "id": r["id"],
                "node_id": r["node_id"],
                "name": r["name"],
                "id_number": r["id_number"],
                "phone": r["phone"],
                "address": r["address"],
                "gender": r["gender"],
                "birth_date": r["birth_date"].isoformat(),
            }
            for r in rows
        ]
        return {"items": items, "next_cursor": None}

    uvicorn.run(app, host="127.0.0.1", port=port, access_log=False, log_level="warning")


def _cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_up(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"server at {url} did not come up")


async def _connection(
    port: int, request: bytes, stop_at: float, max_requests: int, latencies: list[float]
) -> int:
    """One keep-alive connection sending requests back to back; returns the non-200 count.

    A minimal HTTP/1.1 client on asyncio streams: a generic client (httpx) costs more CPU per
    request than a bare FastAPI endpoint and, sharing the two cores, would hide the difference.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    errors = 0
    try:
        while time.perf_counter() < stop_at and len(latencies) < max_requests:
            t0 = time.perf_counter()
            writer.write(request)
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            errors += status != 200
    finally:
        writer.close()
    return errors


async def _load(
    port: int,
    path: str,
    headers: dict[str, str],
    seconds: float,
    concurrency: int,
    max_requests: int,
) -> tuple[int, list[float], float]:
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1"] + [f"{k}: {v}" for k, v in headers.items()]
    request = ("\r\n".join(lines) + "\r\n\r\n").encode()
    latencies: list[float] = []
    started = time.perf_counter()
    stop_at = started + seconds
    errors = await asyncio.gather(
        *(_connection(port, request, stop_at, max_requests, latencies) for _ in range(concurrency))
    )
    return sum(errors), latencies, time.perf_counter() - started


def measure(
    targets: list[tuple[str, int, str, dict[str, str]]], pids: dict[str, int], args: Any
) -> list[dict[str, Any]]:
    """Measure every server in ``args.rounds`` interleaved slices (A B C A B C …) of
    ``seconds / rounds`` each, so load from other work on the machine that comes and goes falls
    on every server alike instead of on whichever happened to run at that moment.

    Besides requests/s, the CPU time each server process used per request (from /proc): on a
    loaded machine a server gets a varying share of a core, so its requests/s varies, but the
    CPU it spends on a request does not depend much on that share."""
    for _, port, path, headers in targets:  # warm-up
        asyncio.run(_load(port, path, headers, 1.0, args.concurrency, 10_000))
    lat: dict[str, list[float]] = {name: [] for name, *_ in targets}
    elapsed = dict.fromkeys(lat, 0.0)
    cpu = dict.fromkeys(lat, 0.0)
    for _ in range(args.rounds):
        for name, port, path, headers in targets:
            cpu_before = _cpu_seconds(pids[name])
            errors, slice_lat, slice_s = asyncio.run(
                _load(
                    port,
                    path,
                    headers,
                    args.seconds / args.rounds,
                    args.concurrency,
                    args.max_requests,
                )
            )
            if errors:
                raise RuntimeError(f"{name}: {errors} non-200 answers")
            cpu[name] += _cpu_seconds(pids[name]) - cpu_before
            lat[name] += slice_lat
            elapsed[name] += slice_s
    results = []
    for name, values in lat.items():
        values.sort()
        results.append(
            {
                "name": name,
                "requests": len(values),
                "rps": len(values) / elapsed[name],
                "p50_ms": statistics.median(values) * 1000,
                "p99_ms": values[int(len(values) * 0.99) - 1] * 1000,
                "cpu_us": cpu[name] / len(values) * 1e6,
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--people", type=int, default=2000)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=4, help="interleaved slices per server")
    parser.add_argument("--database-url", default="", help="default: a fresh embedded SQLite")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]

    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="yitu-bench-") as tmp:
        data_dir = Path(tmp)
        db_url = args.database_url or f"sqlite:///{data_dir / 'yitu.db'}"
        os.environ.setdefault("YITU_AUDIT_KEY", "bench-audit-key-0123456789abcdef")
        seed(db_url, data_dir, args.people)
        bodies: dict[str, bytes] = {}
        servers = [
            ("bare FastAPI, constant", serve_bare, ()),
            ("bare FastAPI + same SQL", serve_bare_query, (db_url,)),
            ("yitu audited read", serve_platform, (db_url, str(data_dir))),
        ]
        procs, ports = [], {}
        try:
            for name, target, extra in servers:  # all up at once, measured in turns
                ports[name] = _free_port()
                procs.append(ctx.Process(target=target, args=(*extra, ports[name]), daemon=True))
                procs[-1].start()
            for name in ("bare FastAPI, constant", "bare FastAPI + same SQL"):
                url = f"http://127.0.0.1:{ports[name]}/people"
                _wait_up(url)
                bodies[name] = httpx.get(url).content
            base = f"http://127.0.0.1:{ports['yitu audited read']}"
            _wait_up(f"{base}/api/v1/health")
            token = httpx.post(
                f"{base}/api/v1/auth/login", json={"username": "bench_gw", "password": PASSWORD}
            ).json()["token"]
            headers = {"Authorization": f"Bearer {token}"}
            bodies["yitu audited read"] = httpx.get(
                f"{base}/api/v1/people?limit=20", headers=headers
            ).content
            check = json.loads(bodies["yitu audited read"])
            assert len(check["items"]) == 20 and all("*" in i["phone"] for i in check["items"])
            # An honest peer: the same rows (ids, in order) as yitu serves, unmasked.
            same_sql = json.loads(bodies["bare FastAPI + same SQL"])
            assert [i["id"] for i in check["items"]] == [i["id"] for i in same_sql["items"]]
            results = measure(
                [
                    ("bare FastAPI, constant", ports["bare FastAPI, constant"], "/people", {}),
                    ("bare FastAPI + same SQL", ports["bare FastAPI + same SQL"], "/people", {}),
                    (
                        "yitu audited read",
                        ports["yitu audited read"],
                        "/api/v1/people?limit=20",
                        headers,
                    ),
                ],
                {name: int(proc.pid or 0) for (name, *_), proc in zip(servers, procs, strict=True)},
                args,
            )
        finally:
            for proc in procs:
                proc.terminate()
                proc.join()
        # The request log is part of the measured work: one line per yitu request, with its id.
        logged = sum(
            " GET /api/v1/people 200 " in line
            for line in (data_dir / "serve.log").read_text(encoding="utf-8").splitlines()
        )
        assert logged >= results[2]["requests"], (logged, results[2]["requests"])

    backend = "postgresql" if args.database_url.startswith("postgresql") else "sqlite (WAL)"
    print(
        f"API benchmark: {args.concurrency} concurrent keep-alive connections, "
        f"{args.seconds:.0f} s each in {args.rounds} interleaved slices, uvicorn 1 process, "
        f"{backend}, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}, "
        f"load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    )
    print(
        f"{'server':<28}{'requests':>10}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}"
        f"{'CPU us/req':>12}{'body B':>9}"
    )
    for r in results:
        print(
            f"{r['name']:<28}{r['requests']:>10}{r['rps']:>10.0f}{r['p50_ms']:>10.1f}"
            f"{r['p99_ms']:>10.1f}{r['cpu_us']:>12.0f}{len(bodies[r['name']]):>9}"
        )
    constant, same_sql, yitu = results
    print(
        f"yitu / bare FastAPI + same SQL: throughput {yitu['rps'] / same_sql['rps']:.2f} "
        f"(target >= 0.50), p99 {yitu['p99_ms'] / same_sql['p99_ms']:.1f}x, "
        f"server CPU per request {same_sql['cpu_us'] / yitu['cpu_us']:.2f} (inverse ratio)"
    )
    print(
        f"yitu / bare FastAPI, constant:  throughput {yitu['rps'] / constant['rps']:.2f}, "
        f"p99 {yitu['p99_ms'] / constant['p99_ms']:.1f}x"
    )


if __name__ == "__main__":
    main()
