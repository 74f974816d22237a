"""Import benchmark: a Laohekou-scale county's noisy sources cleaned, imported and linked.

Prepare (NOT timed — it makes the test data, it is not the import; a subprocess): generate and
load the demo county (``--scale``), write its noisy sources with ``yitu.intake.synth`` (truth
files included), then remove the county's people so the import starts from the standard address
registry alone (bring your own data). With ``--database-url postgresql+psycopg://…/NAME`` the
county is also loaded into ``NAME_pristine`` (a template; each measure recreates ``NAME`` from it).

Measured (a second subprocess, so its peak RSS is its own) — this is what the 5-minute target
covers: the address registry read into the matcher, every people source imported (read,
clean + address match in the importing process or ``--workers`` forked ones, batch insert),
all people records linked (splink), then the relation sources imported the same way and
applied to the registry — with a rich progress bar. Then, outside the timed total: the
data-quality report and the evaluation.
Printed: wall time and peak RSS per phase (main process, and main + cleaning workers sampled
every 0.1 s), pairwise precision and recall against ``truth.csv``, and the same for the peer
measured on the same records in the same run: a plain exact-key dedup (records with the same
cleaned ID number are one person).

    .venv/bin/python bench/import_bench.py --scale laohekou --work /tmp/import_bench
    .venv/bin/python bench/import_bench.py --scale laohekou --work /tmp/import_bench \
        --skip-prepare --database-url postgresql+psycopg://postgres@127.0.0.1:5432/ib_bench
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, make_url, text


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass  # the process ended between listing and reading
    return 0


def _pss_kib(pid: int) -> int:
    """Proportional set size: a forked worker's pages shared with the parent count once in
    the sum (RSS would count them in every process)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children", encoding="ascii") as f:
                kids.extend(int(k) for k in f.read().split())
    except OSError:
        pass
    return kids


def _cpu_s() -> float:
    """CPU seconds of this process and its ended children (the cleaning pool of a finished
    file): on the shared machine the wall clock also measures the other tenants."""
    me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class PhaseMeter:
    """Wall time and peak RSS per phase. A thread samples the RSS of this process and of its
    children (the cleaning workers) every 0.1 s; ``ru_maxrss`` is only the whole run's peak."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self._name = ""
        self._main = 0
        self._all = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.wait(0.1):
            main = _rss_kib(me)
            kids = _children(me)
            total = _pss_kib(me) + sum(_pss_kib(k) for k in kids) if kids else main
            with self._lock:
                self._main = max(self._main, main)
                self._all = max(self._all, total)

    def phase(self, name: str, group: str, work: object) -> object:
        """Run ``work()`` as phase ``name`` of ``group`` (import, link, relations, after)."""
        with self._lock:
            self._main = self._all = _rss_kib(os.getpid())
        cpu = _cpu_s()
        t = time.perf_counter()
        out = work()  # type: ignore[operator]
        wall = time.perf_counter() - t
        cpu = _cpu_s() - cpu
        time.sleep(0.15)  # one more sample
        with self._lock:
            row = {
                "phase": name,
                "group": group,
                "wall_s": wall,
                "cpu_s": cpu,
                "rss_mib": self._main / 1024,
                "rss_all_mib": self._all / 1024,
            }
        self.rows.append(row)
        return out

    def stop(self) -> None:
        self._stop.set()


def _admin_engine(url: str):  # type: ignore[no-untyped-def]
    return create_engine(
        make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=None
    )


def _recreate_pg(url: str, template: str | None) -> None:
    name = make_url(url).database
    engine = _admin_engine(url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(
            text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        )
    engine.dispose()


def prepare_pg(url: str, scale: str, seed: int) -> None:
    """The same county (same scale and seed: same addresses) in PostgreSQL, people removed,
    kept as the template ``NAME_pristine``."""
    import yitu.models  # noqa: F401 - every table
    from yitu.core.db import Database
    from yitu.core.migrate import upgrade
    from yitu.demo.generate import generate
    from yitu.demo.load import load

    pristine = make_url(url).set(database=f"{make_url(url).database}_pristine")
    pristine_url = pristine.render_as_string(hide_password=False)
    _recreate_pg(pristine_url, None)
    upgrade(pristine_url)
    db = Database(pristine_url)
    t = time.perf_counter()
    load(db, generate(scale, seed))
    with db.engine.begin() as conn:
        for table in ("person_orgs", "person_houses", "people"):
            conn.execute(text(f"DELETE FROM {table}"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    db.dispose()
    print(f"prepare: demo county ({scale}) in PostgreSQL in {time.perf_counter() - t:.0f}s")


def prepare(work: Path, scale: str, seed: int) -> None:

    import yitu.models  # noqa: F401 - every table
    from yitu.core.db import Database
    from yitu.core.migrate import upgrade
    from yitu.demo.generate import generate
    from yitu.demo.load import load
    from yitu.intake.synth import read_county, write_sources

    work.mkdir(parents=True, exist_ok=True)
    for f in work.glob("bench.db*"):
        f.unlink()
    url = f"sqlite:///{work}/bench.db"
    upgrade(url)
    db = Database(url)
    t = time.perf_counter()
    load(db, generate(scale, seed))
    print(f"prepare: demo county ({scale}) loaded in {time.perf_counter() - t:.0f}s", flush=True)
    t = time.perf_counter()
    write_sources(read_county(db), work / "sources", seed)
    print(f"prepare: sources written in {time.perf_counter() - t:.0f}s", flush=True)
    with db.engine.begin() as conn:
        for table in ("person_orgs", "person_houses", "people"):
            conn.execute(text(f"DELETE FROM {table}"))
    with db.engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    db.dispose()
    shutil.copyfile(work / "bench.db", work / "pristine.db")  # each measure starts from here


def measure(work: Path, batch_size: int, workers: int, url: str | None) -> dict[str, object]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from sqlalchemy import select

    from yitu.core.db import Database
    from yitu.intake.clean import AddressMatcher
    from yitu.intake.evaluate import evaluate, read_truth
    from yitu.intake.linkage import link_people
    from yitu.intake.mapping import load_mapping
    from yitu.intake.models import Kind, SourceRecord
    from yitu.intake.report import build_report
    from yitu.intake.rows import CleanMemo
    from yitu.intake.service import build_matcher, run_import

    if url is None:
        for f in work.glob("bench.db*"):
            f.unlink()
        shutil.copyfile(work / "pristine.db", work / "bench.db")
        url = f"sqlite:///{work}/bench.db"
    else:
        _recreate_pg(url, f"{make_url(url).database}_pristine")
    db = Database(url)
    src = work / "sources"
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))

    def now() -> datetime:
        return datetime.now(UTC)

    memo = CleanMemo()  # address and name results by text, shared by the sources
    meter = PhaseMeter()
    steps: dict[str, dict[str, float]] = {}
    rows: dict[str, int] = {}
    started = time.perf_counter()
    # the standard address registry, read once
    matcher: AddressMatcher | None = meter.phase(  # type: ignore[assignment]
        "address matcher", "import", lambda: build_matcher(db)
    )
    columns = (
        TextColumn("{task.description:<34}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns) as bar:
        tasks: dict[str, int] = {}

        def tick(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        def import_source(s: dict[str, str]) -> None:
            kind = s["kind"]
            result = meter.phase(
                f"{kind} {s['source']}",
                "import" if kind == "people" else "relations",
                lambda: run_import(
                    db,
                    s["source"],
                    load_mapping(src / s["mapping"]),
                    [src / s["file"]],
                    now=now,
                    batch_size=batch_size,
                    link=False,
                    progress=tick,
                    matcher=matcher,
                    workers=workers,
                    memo=memo,
                ),
            )
            rows[s["source"]] = result.files[0].rows
            steps[s["source"]] = result.files[0].timings

        link_task = bar.add_task("link people", total=3)

        def link_step(name: str) -> None:
            bar.update(link_task, advance=1, description=f"link people: {name}")

        for s in manifest["sources"]:
            if s["kind"] == "people":
                import_source(s)
        # The matcher (~1 GB of registry addresses) is dropped while splink runs and read again
        # for the relations (timed): the two largest structures never coexist.
        matcher = None
        gc.collect()
        link = meter.phase(
            "link people (splink)", "link", lambda: link_people(db, now, step=link_step)
        )
        matcher = meter.phase("address matcher again", "relations", lambda: build_matcher(db))
        for s in manifest["sources"]:
            if s["kind"] == "relations":
                import_source(s)
    total = time.perf_counter() - started
    with db.engine.connect() as conn:
        report = meter.phase("data-quality report", "after", lambda: build_report(conn))
    truth = read_truth(src / "truth.csv")
    with db.engine.connect() as conn:
        ours, _ = meter.phase("evaluate (truth)", "after", lambda: evaluate(conn, truth))
        # The peer, timed on its own: exact-key dedup over the same records.
        t = time.perf_counter()
        numbers = [
            n
            for (n,) in conn.execute(
                select(SourceRecord.id_number).where(SourceRecord.kind == Kind.PEOPLE.value)
            )
        ]
        groups = Counter(n for n in numbers if n)
        peer_people = len(groups) + sum(1 for n in numbers if not n)
        peer_time = time.perf_counter() - t
        _, peer = evaluate(conn, truth)
    meter.stop()
    return {
        "database": db.dialect,
        "total_s": total,
        "phases": meter.rows,
        "steps": steps,
        "rejected": sum(int(x["rejected"]) for x in report.sources),
        "rows": rows,
        "people_records": link.records,
        "people": link.people_created,
        "review_items": link.review_items,
        "pairs": link.pairs,
        "link_timings": link.timings,
        "precision": ours.precision,
        "recall": ours.recall,
        "peer_people": peer_people,
        "peer_time_s": peer_time,
        "peer_precision": peer.precision,
        "peer_recall": peer.recall,
        "true_people": manifest["people"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", default="laohekou", choices=("small", "town", "laohekou"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/import_bench"))
    ap.add_argument("--batch-size", type=int, default=20_000)
    ap.add_argument(
        "--workers",
        type=int,
        default=1,
        help="cleaning processes (1: in the importing process; on two vCPUs more cost memory "
        "and gain no time)",
    )
    ap.add_argument(
        "--database-url",
        help="PostgreSQL URL of a database the bench may drop and recreate (default: a SQLite "
        "file in --work); NAME_pristine is made from it as the template",
    )
    ap.add_argument("--skip-prepare", action="store_true", help="reuse --work's database")
    ap.add_argument("--phase", choices=("prepare", "prepare-pg", "measure"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase == "prepare":
        prepare(args.work, args.scale, args.seed)
        return
    if args.phase == "prepare-pg":
        prepare_pg(args.database_url, args.scale, args.seed)
        return
    if args.phase == "measure":
        out = measure(args.work, args.batch_size, args.workers, args.database_url)
        me, kids = (resource.getrusage(w) for w in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
        out["peak_rss_mib"] = me.ru_maxrss / 1024
        out["workers_peak_rss_mib"] = kids.ru_maxrss / 1024
        # CPU time: on the shared machine the wall clock mostly measures the other tenants.
        out["cpu_s"] = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
        (args.work / "result.json").write_text(json.dumps(out, indent=2))
        return
    me = [
        sys.executable,
        __file__,
        "--scale",
        args.scale,
        "--seed",
        str(args.seed),
        "--work",
        str(args.work),
        "--batch-size",
        str(args.batch_size),
        "--workers",
        str(args.workers),
    ]
    if args.database_url:
        me += ["--database-url", args.database_url]
    if not args.skip_prepare:
        subprocess.run([*me, "--phase", "prepare"], check=True)
    if args.database_url and not (args.skip_prepare and _pg_exists(args.database_url)):
        subprocess.run([*me, "--phase", "prepare-pg"], check=True)
    subprocess.run([*me, "--phase", "measure"], check=True)
    r = json.loads((args.work / "result.json").read_text())
    print(
        f"\nimport benchmark ({args.scale}, seed {args.seed}, {r['database']}, batch "
        f"{args.batch_size}, {args.workers} cleaning workers; load average at the end "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}): rows {r['rows']}"
    )
    print(f"  {'phase':<26}{'wall s':>8}{'CPU s':>8}{'peak RSS MiB':>14}{'+ workers PSS':>15}")
    for row in r["phases"]:
        print(
            f"  {row['phase']:<26}{row['wall_s']:>8.1f}{row['cpu_s']:>8.1f}{row['rss_mib']:>14.0f}"
            f"{row['rss_all_mib']:>15.0f}"
        )
    print("  per source (s): read | clean CPU (of which address) | DB write | wait for cleaning")
    for name, t in r["steps"].items():
        print(
            f"    {name:<12} {t['read']:6.1f} | {t['clean']:6.1f} ({t['address']:5.1f}) | "
            f"{t['write']:6.1f} | {t['wait']:6.1f}"
        )
    print("  linkage steps: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["link_timings"].items()))
    groups = {
        g: sum(x["wall_s"] for x in r["phases"] if x["group"] == g)
        for g in ("import", "link", "relations", "after")
    }
    peak_all = max(x["rss_all_mib"] for x in r["phases"] if x["group"] != "after")
    met = "met" if r["total_s"] < 300 else "NOT met"
    print(
        f"timed total (address matcher + clean + import + link + relations; source generation "
        f"excluded): {r['total_s']:.1f} s wall — target < 300 s {met}; people import "
        f"{groups['import']:.1f} s, link {groups['link']:.1f} s, relations "
        f"{groups['relations']:.1f} s; report + evaluation after it {groups['after']:.1f} s"
    )
    print(
        f"CPU {r['cpu_s']:.1f} s (main + workers); peak RSS main process {r['peak_rss_mib']:.0f} "
        f"MiB (whole run), main + workers at once (PSS) {peak_all:.0f} MiB — target < 4096 MiB "
        f"{'met' if max(peak_all, r['peak_rss_mib']) < 4096 else 'NOT met'}; "
        f"{r['rejected']} rows rejected"
    )
    print(f"{'':<28}{'people':>9}{'precision':>11}{'recall':>9}")
    print(
        f"{'yitu (splink linkage)':<28}{r['people']:>9}{r['precision']:>11.4f}{r['recall']:>9.4f}"
    )
    print(
        f"{'peer: exact ID-number dedup':<28}{r['peer_people']:>9}{r['peer_precision']:>11.4f}"
        f"{r['peer_recall']:>9.4f}   (dedup itself {r['peer_time_s']:.1f} s)"
    )
    print(
        f"true people {r['true_people']}; {r['people_records']} people records, "
        f"{r['pairs']} scored pairs, {r['review_items']} review items; "
        f"recall ratio yitu/peer {r['recall'] / r['peer_recall']:.3f}"
    )


def _pg_exists(url: str) -> bool:
    name = f"{make_url(url).database}_pristine"
    engine = _admin_engine(url)
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
    engine.dispose()
    return found is not None


if __name__ == "__main__":
    main()
