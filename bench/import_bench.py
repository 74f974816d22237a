"""Import benchmark: a Laohekou-scale county's noisy sources cleaned, imported and linked.

Prepare (not timed, a subprocess): generate and load the demo county (``--scale``), write its
noisy sources with ``yitu.intake.synth`` (truth files included), then remove the county's people
so the import starts from the standard address registry alone (bring your own data).

Measured (a second subprocess, so its peak RSS is its own): every people source imported
(clean, batch insert), all people records linked (splink), then the relation sources applied —
with a rich progress bar. Printed: wall time per phase, peak RSS, pairwise precision and recall
against ``truth.csv``, and the same for the peer measured on the same records in the same run: a
plain exact-key dedup (records with the same cleaned ID number are one person).

    .venv/bin/python bench/import_bench.py --scale laohekou --work /tmp/import_bench
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path


def prepare(work: Path, scale: str, seed: int) -> None:
    from sqlalchemy import text

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


def measure(work: Path, batch_size: int, workers: int) -> dict[str, object]:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )
    from sqlalchemy import select

    from yitu.core.db import Database
    from yitu.intake.evaluate import evaluate, read_truth
    from yitu.intake.linkage import link_people
    from yitu.intake.mapping import load_mapping
    from yitu.intake.models import Kind, SourceRecord
    from yitu.intake.service import build_matcher, run_import

    for f in work.glob("bench.db*"):
        f.unlink()
    shutil.copyfile(work / "pristine.db", work / "bench.db")
    db = Database(f"sqlite:///{work}/bench.db")
    src = work / "sources"
    manifest = json.loads((src / "manifest.json").read_text(encoding="utf-8"))

    def now() -> datetime:
        return datetime.now(UTC)

    phases: dict[str, float] = {}
    rows: dict[str, int] = {}
    started = time.perf_counter()
    matcher = build_matcher(db)  # the standard address registry, read once
    phases["address matcher"] = time.perf_counter() - started
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

        for kind in ("people", "relations"):
            if kind == "relations":
                t = time.perf_counter()
                link_task = bar.add_task("link people", total=3)
                link = link_people(
                    db,
                    now,
                    step=lambda s, task=link_task: bar.update(
                        task, advance=1, description=f"link people: {s}"
                    ),
                )
                phases["link"] = time.perf_counter() - t
            for s in manifest["sources"]:
                if s["kind"] != kind:
                    continue
                t = time.perf_counter()
                result = run_import(
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
                )
                phases[f"import {s['source']}"] = time.perf_counter() - t
                rows[s["source"]] = result.files[0].rows
    total = time.perf_counter() - started
    truth = read_truth(src / "truth.csv")
    with db.engine.connect() as conn:
        t = time.perf_counter()
        ours, _ = evaluate(conn, truth)
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
    return {
        "total_s": total,
        "phases": phases,
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
    ap.add_argument("--workers", type=int, default=2, help="cleaning processes")
    ap.add_argument("--skip-prepare", action="store_true", help="reuse --work's database")
    ap.add_argument("--phase", choices=("prepare", "measure"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.phase == "prepare":
        prepare(args.work, args.scale, args.seed)
        return
    if args.phase == "measure":
        out = measure(args.work, args.batch_size, args.workers)
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
    ]
    if not args.skip_prepare:
        subprocess.run([*me, "--phase", "prepare"], check=True)
    subprocess.run([*me, "--phase", "measure"], check=True)
    r = json.loads((args.work / "result.json").read_text())
    print(
        f"\nimport benchmark ({args.scale}, seed {args.seed}, SQLite file, batch "
        f"{args.batch_size}): rows {r['rows']}"
    )
    for name, sec in r["phases"].items():
        print(f"  {name:<24} {sec:7.1f} s")
    print("  linkage phases: " + ", ".join(f"{k} {v:.1f}s" for k, v in r["link_timings"].items()))
    print(
        f"total {r['total_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU (target < 300 s); peak RSS "
        f"{r['peak_rss_mib']:.0f} MiB, cleaning workers {r['workers_peak_rss_mib']:.0f} MiB each "
        f"at most (target < 4096)"
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


if __name__ == "__main__":
    main()
