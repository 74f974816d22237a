"""Benchmark of yitu.grid against H3 and geohash, measured in the same run.

    pip install -e '.[bench]'          # h3, h3ronpy, polars-h3, polars-hash
    python bench/grid_bench.py         # 1M points, county and world extents, cover
    python bench/grid_bench.py --bulk 10000000   # also stream a 10M-point CSV through the CLI

Prints, for each operation, the best of ``--repeat`` runs for yitu and each peer, and the ratio
(fastest peer time / yitu time; above 1 means yitu is faster). Machines here are shared and
noisy: only the ratios mean something, not the absolute times. Not a test: nothing asserts.
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import box

from yitu.grid import cover, vector

LAOHEKOU = (111.67, 32.38)  # county seat, the demo county's centre
TARGETS = {"encode → strings": 5.0, "encode → integers": 10.0, "cover cells/s": 1.0}


def need(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        sys.exit(f"peer library {module!r} missing: pip install -e '.[bench]'")


def best(fn: Callable[[], object], repeat: int) -> float:
    fn()  # warm-up (lookup tables, JIT of peers)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def row(name: str, ours: float, peers: dict[str, float]) -> None:
    """One line: yitu's time, each peer's, the ratio to the fastest H3 peer (the issue's target
    is stated against vectorised H3) and to the fastest peer of any kind."""
    h3 = {k: v for k, v in peers.items() if "h3" in k}
    fastest_h3 = min(h3, key=h3.__getitem__)
    ratio = h3[fastest_h3] / ours
    target = TARGETS.get(name)
    verdict = ""
    if target is not None:
        verdict = f" (target ≥{target:.0f}× {'met' if ratio >= target else 'MISSED'})"
    fastest = min(peers, key=peers.__getitem__)
    other = "" if fastest == fastest_h3 else f"; {peers[fastest] / ours:.1f}× vs {fastest}"
    peer_txt = ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in peers.items())
    print(f"{name:<18} yitu {ours * 1000:7.1f} ms | {peer_txt} | "
          f"{ratio:5.1f}× vs {fastest_h3}{verdict}{other}")


def points(region: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    if region == "county":  # ±0.5° around Laohekou (the demo county and its neighbours)
        return (rng.uniform(LAOHEKOU[0] - 0.5, LAOHEKOU[0] + 0.5, n),
                rng.uniform(LAOHEKOU[1] - 0.5, LAOHEKOU[1] + 0.5, n))
    return rng.uniform(-180, 180, n), rng.uniform(-87.9, 87.9, n)


def bench_points(region: str, n: int, repeat: int) -> None:
    pl = need("polars")
    plh3 = need("polars_h3")
    h3v = need("h3ronpy.vector")
    plhash = need("polars_hash")  # noqa: F841  (registers the .geohash namespace)
    lon, lat = points(region, n, np.random.default_rng(20261126))
    print(f"\n{n:,} random points, {region} extent, level 10 (H3 res 15, geohash 12)")

    df = pl.DataFrame({"lat": lat, "lng": lon})
    coords = pl.DataFrame({"longitude": lon, "latitude": lat}).to_struct("coords").to_frame()
    h3_pl = lambda: df.select(plh3.latlng_to_cell("lat", "lng", 15).alias("cell"))  # noqa: E731
    h3_ron = lambda: h3v.coordinates_to_cells(lat, lon, 15)  # noqa: E731
    gh = lambda: coords.select(pl.col("coords").geohash.from_coords(12))  # noqa: E731
    h3_peers = {"polars-h3": best(h3_pl, repeat), "h3ronpy": best(h3_ron, repeat)}

    row("encode → integers", best(lambda: vector.encode_int(lon, lat, 10), repeat), h3_peers)
    strings = {**h3_peers, "geohash-12 (polars-hash)": best(gh, repeat)}
    row("encode → strings", best(lambda: vector.encode_str(lon, lat, 10), repeat), strings)
    row("encode → arrow", best(lambda: vector.encode_arrow(lon, lat, 10), repeat), strings)

    ints = vector.encode_int(lon, lat, 10)
    codes = vector.encode_str(lon, lat, 10)
    h3_cells = h3_ron()
    h3_pl_cells = h3_pl()
    gh_codes = gh()
    dec_peers = {
        "polars-h3": best(lambda: h3_pl_cells.select(plh3.cell_to_latlng("cell")), repeat),
        "h3ronpy": best(lambda: h3v.cells_to_coordinates(h3_cells), repeat),
        "geohash-12 (polars-hash)": best(
            lambda: gh_codes.select(pl.col("coords").geohash.to_coords()), repeat),
    }
    row("decode integers", best(lambda: vector.decode_int(ints).centre(), repeat), dec_peers)
    row("decode strings", best(lambda: vector.decode_str(codes).centre(), repeat), dec_peers)


def bench_cover(repeat: int) -> None:
    h3 = need("h3")
    lon0, lat0 = LAOHEKOU
    # ~10 km square: 0.053° of longitude ≈ 5 km at 32.4°N, 0.045° of latitude ≈ 5 km
    sq = box(lon0 - 0.053, lat0 - 0.045, lon0 + 0.053, lat0 + 0.045)
    ring = [(y, x) for x, y in sq.exterior.coords[:-1]]
    n_ours = cover.cover_cells(sq, 7).size
    t_ours = best(lambda: cover.cover_cells(sq, 7), repeat)
    poly = h3.LatLngPoly(ring)
    n_h3 = len(h3.polygon_to_cells(poly, 13))
    t_h3 = best(lambda: h3.polygon_to_cells(poly, 13), max(1, repeat // 2))
    print(f"\ncover of a ~10 km square: yitu level 7 (7.7 m cells) {n_ours:,} cells, "
          f"H3 res 13 (~44 m² cells) {n_h3:,} cells")
    ours, theirs = n_ours / t_ours, n_h3 / t_h3
    ratio = ours / theirs
    verdict = "met" if ratio >= TARGETS["cover cells/s"] else "MISSED"
    print(f"{'cover cells/s':<22} yitu {ours / 1e6:6.2f} M/s ({t_ours * 1000:.0f} ms) | "
          f"h3 polygon_to_cells {theirs / 1e6:6.2f} M/s ({t_h3 * 1000:.0f} ms) | "
          f"{ratio:5.1f}× vs h3  target ≥1× {verdict}")
    t_compact = best(lambda: cover.cover_compact(sq, 7), 1)
    t_ranges = best(lambda: cover.cover_ranges(sq, 7), 1)
    print(f"{'':<22} compact cover {cover.cover_compact(sq, 7).size:,} cells "
          f"({t_compact * 1000:.0f} ms); SQL ranges {len(cover.cover_ranges(sq, 7)):,} "
          f"({t_ranges * 1000:.0f} ms)")


def write_csv(path: Path, n: int) -> None:
    rng = np.random.default_rng(7)
    with path.open("w") as f:
        f.write("lon,lat\n")
        for start in range(0, n, 1_000_000):
            m = min(1_000_000, n - start)
            lon, lat = rng.uniform(73, 135, m), rng.uniform(18, 53, m)
            np.savetxt(f, np.column_stack([lon, lat]), fmt="%.7f", delimiter=",")


def run_measured(cmd: list[str] | str, shell: bool = False) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a child process (fresh grandchild accounting)."""
    script = (
        "import resource, subprocess, sys, time, json\n"
        "t = time.perf_counter()\n"
        f"subprocess.run({cmd!r}, shell={shell}, check=True, stdout=subprocess.DEVNULL)\n"
        "print(time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True).stdout.split()
    return float(out[0]), float(out[1])


def bench_bulk(n: int) -> None:
    need("polars")
    need("polars_h3")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "points.csv"
        print(f"\nbulk: writing {n:,} points to a CSV …", flush=True)
        write_csv(path, n)
        size_mb = path.stat().st_size / 2**20
        yitu = str(Path(sys.executable).with_name("yitu"))
        t_ours, rss_ours = run_measured([yitu, "grid", "encode", "--input", str(path)])
        peer = (
            "import polars as pl, polars_h3 as h\n"
            f"df = pl.read_csv({str(path)!r})\n"
            "s = df.select(h.int_to_str(h.latlng_to_cell('lat', 'lon', 15)))\n"
            "import sys; sys.stdout.write('\\n'.join(s.to_series().to_list()))\n"
        )
        t_peer, rss_peer = run_measured([sys.executable, "-c", peer])
        print(f"{'bulk CSV → codes':<22} {size_mb:.0f} MB file | yitu grid encode (streaming) "
              f"{t_ours:.1f} s, peak {rss_ours:.0f} MB (target < 1024 MB "
              f"{'met' if rss_ours < 1024 else 'MISSED'}) | polars read_csv + polars-h3 "
              f"{t_peer:.1f} s, peak {rss_peer:.0f} MB | memory ratio {rss_peer / rss_ours:.1f}×, "
              f"time ratio {t_peer / t_ours:.2f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--region", choices=["county", "world", "both"], default="both")
    parser.add_argument("--bulk", type=int, default=0, metavar="N",
                        help="also stream an N-point CSV through `yitu grid encode`")
    args = parser.parse_args()
    print(f"yitu grid benchmark — {os.cpu_count()} CPUs, numpy {np.__version__}, "
          f"shapely {shapely.__version__}; ratio = fastest peer time / yitu time")
    for region in (["county", "world"] if args.region == "both" else [args.region]):
        bench_points(region, args.points, args.repeat)
    bench_cover(args.repeat)
    if args.bulk:
        bench_bulk(args.bulk)


if __name__ == "__main__":
    main()
