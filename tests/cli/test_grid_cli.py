"""``yitu grid``: single-point commands, auto 2D/3D detection, covers and streaming bulk encode."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import yitu.cli.grid as grid_cli
from yitu.cli import app
from yitu.grid import decode, decode3d, encode, encode3d, to_int

runner = CliRunner()


def run(*args: str, input: str | None = None):
    return runner.invoke(app, ["grid", *args], input=input)


# --- encode ----------------------------------------------------------------------------------
def test_encode_2d_vector() -> None:
    r = run("encode", "116.31260277777777", "39.993161111111114", "--level", "8")
    assert r.exit_code == 0, r.output
    assert r.stdout == "N50J47539B825534\n"


def test_encode_default_level_is_10() -> None:
    r = run("encode", "116.31260277777777", "39.993161111111114")
    assert r.stdout.strip() == encode(116.31260277777777, 39.993161111111114, 10)
    assert len(r.stdout.strip()) == 20


def test_encode_3d_vector_and_profiles() -> None:
    r = run("encode", "116.315222", "39.910278", "--height", "100", "--level", "4")
    assert r.exit_code == 0, r.output
    assert r.stdout == "N050J0047050340\n"
    r = run("encode", "-116.315222", "-39.910278", "-H", "-100", "-l", "3", "-p", "c14")
    assert r.stdout.strip() == encode3d(-116.315222, -39.910278, -100, 3, "c14")


@pytest.mark.parametrize(
    "args",
    [
        ["-116.3", "-39.9"],  # negative numbers are values, not options
        ["--", "-116.3", "-39.9"],
        ["-l", "10", "-116.3", "-39.9"],
        ["-116.3", "--level", "10", "-39.9"],
    ],
)
def test_encode_negative_coordinates(args: list[str]) -> None:
    r = run("encode", *args)
    assert r.exit_code == 0, r.output
    assert r.stdout.strip() == encode(-116.3, -39.9, 10)
    assert r.stdout.startswith("S11")


def test_encode_json_2d() -> None:
    r = run("encode", "116.31260277777777", "39.993161111111114", "-l", "8", "-f", "json")
    d = json.loads(r.stdout)
    cell = decode("N50J47539B825534")
    assert d["code"] == "N50J47539B825534"
    assert d["dims"] == 2 and d["level"] == 8
    assert d["lon"] == 116.31260277777777 and d["lat"] == 39.993161111111114
    assert d["int"] == to_int("N50J47539B825534")
    assert d["bbox"] == list(cell.bbox)
    assert d["centre"] == list(cell.centre)
    assert d["corner"] == list(cell.corner)


def test_encode_json_3d_has_layer() -> None:
    r = run("encode", "116.315222", "39.910278", "--height", "100", "-l", "4", "-f", "json")
    d = json.loads(r.stdout)
    cell = decode3d("N050J0047050340")
    assert d["code"] == "N050J0047050340" and d["dims"] == 3 and d["profile"] == "gb"
    assert d["height"] == 100.0
    assert d["bottom"] == cell.bottom <= 100.0 < d["top"] == cell.top
    assert d["code2d"] == "N50J47534"
    assert d["int2d"] == to_int("N50J47534")
    assert d["bbox"] == list(cell.bbox)


def test_encode_geojson_feature() -> None:
    r = run("encode", "--format", "geojson", "--", "-116.3", "-39.9")
    f = json.loads(r.stdout)
    assert f["type"] == "Feature"
    w, s, e, n = decode(f["properties"]["code"]).bbox
    assert f["geometry"]["coordinates"] == [[[w, s], [e, s], [e, n], [w, n], [w, s]]]
    assert f["properties"]["lon"] == -116.3


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["1", "89"], "polar"),
        (["200", "1"], "outside"),
        (["abc", "1"], "not a number"),
        (["1", "2", "--level", "11"], "level"),
        (["116", "39", "--height", "1e12"], "height"),
        (["--levl", "3"], "no such option: --levl"),  # unknown options are not numbers
        (["1"], "missing latitude"),
    ],
)
def test_encode_errors_exit_2_without_traceback(args: list[str], needle: str) -> None:
    r = run("encode", *args)
    assert r.exit_code == 2
    assert needle in r.stderr
    assert "Traceback" not in r.output
    assert r.stdout == ""


# --- decode ----------------------------------------------------------------------------------
def test_decode_json_2d_fields() -> None:
    r = run("decode", "n50j47539b825534", "-f", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    cell = decode("N50J47539B825534")
    assert d == {
        "code": "N50J47539B825534",
        "dims": 2,
        "level": 8,
        "int": to_int("N50J47539B825534"),
        "bbox": list(cell.bbox),
        "centre": list(cell.centre),
        "corner": list(cell.corner),
    }


def test_decode_json_3d_fields() -> None:
    d = json.loads(run("decode", "N050J0047050340", "-f", "json").stdout)
    cell = decode3d("N050J0047050340")
    assert d["dims"] == 3 and d["level"] == 4
    assert (d["bottom"], d["top"]) == (cell.bottom, cell.top)
    assert d["centre"] == list(cell.centre)
    assert d["corner"] == [*cell.cell.corner, cell.bottom]


@pytest.mark.parametrize(
    ("code", "dims"),
    [
        ("N50J475", 2),  # length 7: both kinds exist
        ("N050J00", 3),
        ("N50J47539B82", 2),  # length 12
        ("N050J0047050", 3),
        ("N50J47539B82553412", 2),  # length 18
        (encode3d(116.315222, 39.910278, 100, 5), 3),
        ("N50J47539B8255341234", 2),  # length 20
        (encode3d(116.315222, 39.910278, 100, 6), 3),  # N050J0047050340D9011
        ("N50J47539B8", 2),  # 2D-only length
        ("N050J0047050340D9011345100403", 3),  # 3D-only length
    ],
)
def test_decode_auto_dims(code: str, dims: int) -> None:
    r = run("decode", code, "-f", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.stdout)
    assert d["dims"] == dims
    assert d["code"] == code.upper()


def test_decode_forced_dims_and_text() -> None:
    assert run("decode", "N050J00", "--dims", "2").exit_code == 2
    r = run("decode", "N050J00", "--dims", "3")
    assert r.exit_code == 0
    lines = dict(line.split(None, 1) for line in r.stdout.splitlines())
    assert lines["code"] == "N050J00" and lines["dims"] == "3" and lines["level"] == "1"
    assert "bottom" in lines and "top" in lines and "int2d" in lines


def test_decode_geojson() -> None:
    f = json.loads(run("decode", "N50J47539B82", "-f", "geojson").stdout)
    assert f["type"] == "Feature" and f["properties"]["code"] == "N50J47539B82"
    assert f["bbox"] == list(decode("N50J47539B82").bbox)


@pytest.mark.parametrize("code", ["N50J4753", "X50J475", "N50J47G", "N0X0J00", ""])
def test_decode_invalid_exit_2(code: str) -> None:
    r = run("decode", code)
    assert r.exit_code == 2
    assert r.stderr.startswith("yitu grid: error: ")
    assert "Traceback" not in r.output


# --- neighbours ------------------------------------------------------------------------------
def test_neighbours_text() -> None:
    r = run("neighbours", "N50J47539B82")
    assert r.exit_code == 0, r.output
    pairs = [line.split() for line in r.stdout.splitlines()]
    assert [p[0] for p in pairs] == ["N", "NE", "E", "SE", "S", "SW", "W", "NW"]
    got = dict(pairs)
    assert got["E"] == "N50J47539B83"
    assert got["N"] == "N50J47539B90"


def test_neighbours_json_polar_and_wrap() -> None:
    d = json.loads(run("neighbours", "N60V", "-f", "json").stdout)
    assert d["neighbours"]["E"] == "N01V"
    assert d["neighbours"]["N"] is None
    assert run("neighbours", "N60V").stdout.splitlines()[0].split() == ["N", "-"]


def test_neighbours_geojson_and_3d() -> None:
    fc = json.loads(run("neighbours", "S11J47539B82", "-f", "geojson").stdout)
    assert fc["type"] == "FeatureCollection"
    dirs = {f["properties"]["direction"]: f["properties"]["code"] for f in fc["features"]}
    assert len(dirs) == 8 and dirs["E"] == "S11J47539A83"
    d = json.loads(run("neighbours", "N050J0047050340", "-f", "json").stdout)["neighbours"]
    assert set(d) == {"N", "NE", "E", "SE", "S", "SW", "W", "NW", "up", "down"}
    assert all(len(c) == 15 and decode3d(c).layer == decode3d("N050J0047050340").layer
               for k, c in d.items() if k not in ("up", "down"))


# --- cover -----------------------------------------------------------------------------------
@pytest.fixture
def polygon_file(tmp_path: Path) -> Path:
    ring = [[116.30, 39.90], [116.32, 39.90], [116.32, 39.92], [116.30, 39.92], [116.30, 39.90]]
    feature = {"type": "Feature", "properties": {"name": "测试"},
               "geometry": {"type": "Polygon", "coordinates": [ring]}}
    path = tmp_path / "area.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def test_cover_text_json_geojson(polygon_file: Path) -> None:
    r = run("cover", str(polygon_file), "--level", "4")
    assert r.exit_code == 0, r.output
    assert r.stdout.split() == ["N50J47534", "N50J47535", "N50J47544", "N50J47545"]
    d = json.loads(run("cover", str(polygon_file), "-l", "4", "-f", "json").stdout)
    assert d["count"] == 4 and d["codes"][0] == "N50J47534" and d["level"] == 4
    fc = json.loads(run("cover", str(polygon_file), "-l", "4", "-f", "geojson").stdout)
    assert [f["id"] for f in fc["features"]] == d["codes"]


def test_cover_compact_is_smaller_and_same_area(polygon_file: Path) -> None:
    full = run("cover", str(polygon_file), "-l", "5").stdout.split()
    compact = run("cover", str(polygon_file), "-l", "5", "--compact").stdout.split()
    assert len(compact) < len(full) == 324
    assert "N50J47534" in compact  # a complete level-4 cell, merged
    area = sum((lambda b: (b[2] - b[0]) * (b[3] - b[1]))(decode(c).bbox) for c in full)
    area_c = sum((lambda b: (b[2] - b[0]) * (b[3] - b[1]))(decode(c).bbox) for c in compact)
    assert area_c == pytest.approx(area)


def test_cover_stdin_and_errors(polygon_file: Path, tmp_path: Path) -> None:
    r = run("cover", "-", "-l", "4", input=polygon_file.read_text())
    assert r.stdout.split()[0] == "N50J47534"
    bad = tmp_path / "bad.geojson"
    bad.write_text("{not json")
    for args in (["cover", str(bad), "-l", "4"], ["cover", str(tmp_path / "nope"), "-l", "4"],
                 ["cover", str(polygon_file), "-l", "0"]):
        r = run(*args)
        assert r.exit_code == 2 and "yitu grid: error" in r.stderr and "Traceback" not in r.output


# --- bulk ------------------------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    assert text.endswith("\n")
    return text[:-1].split("\n")


def test_bulk_bad_rows_keep_alignment(tmp_path: Path) -> None:
    csv_path = tmp_path / "points.csv"
    csv_path.write_text(
        "id,lon,lat\n"
        "a,116.31260277777777,39.993161111111114\n"  # row 1
        "b,abc,39.9\n"  # row 2: not a number
        "c,-116.3,-39.9\n"  # row 3
        "d,1,89\n"  # row 4: polar
        "e,116.3\n"  # row 5: missing field
        "f,116.3,39.9\n"  # row 6
    )
    r = run("encode", "--input", str(csv_path), "--level", "8")
    assert r.exit_code == 1
    assert _lines(r.stdout) == [
        "N50J47539B825534", "", encode(-116.3, -39.9, 8), "", "", encode(116.3, 39.9, 8),
    ]
    errors = [line for line in r.stderr.splitlines() if line.startswith("row ")]
    assert [e.split(":")[0] for e in errors] == ["row 2", "row 4", "row 5"]
    assert "not a number" in errors[0] and "polar" in errors[1] and "fields" in errors[2]
    assert "3 of 6 rows" in r.stderr


def test_bulk_stdin_height_column_gives_3d() -> None:
    text = "Longitude,Latitude,Height\r\n116.315222,39.910278,100\r\n-116.3,-39.9,-50\r\n"
    r = run("encode", "-i", "-", "-l", "4", input=text)
    assert r.exit_code == 0, r.output
    assert _lines(r.stdout) == [
        "N050J0047050340", encode3d(-116.3, -39.9, -50, 4),
    ]
    r = run("encode", "-i", "-", "-l", "4", "--no-height", input=text)
    assert _lines(r.stdout) == [encode(116.315222, 39.910278, 4), encode(-116.3, -39.9, 4)]
    one = "lng,lat\n116.315222,39.910278\n"
    r = run("encode", "-i", "-", "-l", "4", "--height", "100", input=one)
    assert r.stdout == "N050J0047050340\n"


def test_bulk_quoted_csv_blank_row_and_output_file(tmp_path: Path) -> None:
    text = 'name,lat,lon\n"x, y",39.9,116.3\n\n"z",-39.9,-116.3\n'
    out = tmp_path / "codes.txt"
    r = run("encode", "-i", "-", "-o", str(out), "-l", "6", input=text)
    assert r.exit_code == 1
    assert r.stdout == ""
    assert _lines(out.read_text()) == [encode(116.3, 39.9, 6), "", encode(-116.3, -39.9, 6)]
    assert "row 2: empty row" in r.stderr


def test_bulk_many_blocks_matches_vector(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tiny blocks: rows and row numbers stay right across block boundaries."""
    monkeypatch.setattr(grid_cli, "BLOCK_BYTES", 97)
    rng = np.random.default_rng(7)
    n = 500
    lon = rng.uniform(-180, 180, n)
    lat = rng.uniform(-87.99, 87.99, n)
    rows = [f"{x!r},{y!r}" for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]
    bad = {17, 250, 499}
    for i in bad:
        rows[i] = "nan,1" if i != 499 else "1,-90.5"
    path = tmp_path / "p.csv"
    path.write_text("lon,lat\n" + "\n".join(rows))  # no final newline
    r = run("encode", "-i", str(path), "-l", "10")
    assert r.exit_code == 1
    got = _lines(r.stdout)
    assert len(got) == n
    for i in range(n):
        assert got[i] == ("" if i in bad else encode(float(lon[i]), float(lat[i]), 10))
    reported = [int(line.split(":")[0][4:]) for line in r.stderr.splitlines()
                if line.startswith("row ")]
    assert reported == sorted(i + 1 for i in bad)


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["-i", "-"], "x,y\n1,2\n", "no longitude column"),
        (["-i", "-"], "", "empty input"),
        (["-i", "-", "-f", "json"], "lon,lat\n1,2\n", "only --format text"),
        (["1", "2", "-i", "-"], "lon,lat\n1,2\n", "not both"),
        (["-i", "-", "--lat-column", "y"], "lon,lat\n1,2\n", "no latitude column 'y'"),
    ],
)
def test_bulk_usage_errors(args: list[str], stdin: str, needle: str) -> None:
    r = run("encode", *args, input=stdin)
    assert r.exit_code == 2
    assert needle in r.stderr


def test_bulk_installed_entry_point_stdin() -> None:
    """The real ``yitu`` console script, reading stdin, with a bad row in the middle."""
    exe = Path(sys.executable).with_name("yitu")
    text = "lon,lat,height\n116.315222,39.910278,100\n116.3,,5\n-116.3,-39.9,-50\n"
    proc = subprocess.run(
        [str(exe), "grid", "encode", "--input", "-", "--level", "4"],
        input=text.encode(), capture_output=True, check=False,
    )
    assert proc.returncode == 1
    assert proc.stdout.decode().split("\n") == [
        "N050J0047050340", "", encode3d(-116.3, -39.9, -50, 4), "",
    ]
    assert proc.stderr.decode().startswith("row 2: latitude '' is not a number")
    assert b"Traceback" not in proc.stderr
