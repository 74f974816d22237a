"""Benchmark of address cleaning (not a test): parse + match the noisy sources' address
spellings against the standard address registry of a loaded demo county.

yitu: ``parse_address`` + ``AddressMatcher.match`` (components, pinyin/fuzzy roads, divisions).
Peer in the same run: exact lookup of the whitespace-stripped text among the registry's
``full_name``s (what a plain join on the address column does). Both are scored against the
truth (the room each row was written from); printed: share at the true room, CPU µs per
address, and yitu's CPU cost relative to the peer (cost×).

    .venv/bin/python bench/address_bench.py --database-url sqlite:////tmp/lhk.db [--source grid_rel]
"""

from __future__ import annotations

import argparse
import resource
import time
from collections import Counter

from sqlalchemy import select

from yitu.access.scope import SCOPE_KEY, UNRESTRICTED
from yitu.core.db import Database
from yitu.intake.clean import AddressMatcher, parse_address
from yitu.intake.clean.text import squeeze
from yitu.intake.synth import SOURCES, read_county, source_rows
from yitu.registry.models import Address


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--database-url", required=True, help="a database holding a demo county")
    ap.add_argument("--source", action="append", help="source keys (default: all)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    db = Database(args.database_url)
    t = time.process_time()
    with db.session(**{SCOPE_KEY: UNRESTRICTED}) as s:
        matcher = AddressMatcher.from_session(s)
        exact = {
            full: hid
            for full, hid in s.execute(
                select(Address.full_name, Address.house_id).where(Address.kind == "room")
            )
        }
    print(
        f"matcher built in {time.process_time() - t:.1f} s CPU: {len(matcher.buildings):,} "
        f"buildings, {len(matcher.rooms):,} rooms"
    )
    data = read_county(db)
    keys = args.source or [s.key for s in SOURCES]
    print(f"{'source':<11}{'rows':>9}{'yitu ok':>10}{'µs':>7}{'exact ok':>10}{'µs':>7}{'cost×':>7}")
    for src in (s for s in SOURCES if s.key in keys):
        rows = [
            (r.values[src.columns["address"]], r.house)
            for r in source_rows(src, data, args.seed)
            if r.values[src.columns["address"]]
        ]
        parse_address.cache_clear()
        t = time.process_time()
        ours: Counter[bool] = Counter()
        for text, house in rows:
            parsed = parse_address(text)
            m = matcher.match(parsed.value) if parsed.value is not None else None
            ours[m is not None and m.house_id == house] += 1
        t_ours = time.process_time() - t
        t = time.process_time()
        peer: Counter[bool] = Counter()
        for text, house in rows:
            peer[exact.get(squeeze(text)) == house] += 1
        t_peer = time.process_time() - t
        n = len(rows)
        print(
            f"{src.key:<11}{n:>9,}{ours[True] / n:>10.2%}{t_ours / n * 1e6:>7.1f}"
            f"{peer[True] / n:>10.2%}{t_peer / n * 1e6:>7.1f}{t_ours / max(t_peer, 1e-9):>7.0f}x"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MiB")


if __name__ == "__main__":
    main()
