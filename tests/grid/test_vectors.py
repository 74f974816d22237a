"""Published test vectors: every row of ``shared/specs/beidou-grid-vectors.csv`` and spec §8.

The CSV lives in the ``shared`` directory beside the repository (``<repo>/../shared``); set
``YITU_SHARED`` to point elsewhere. A missing file is a test *failure*, never a skip: the
vectors are the only external ground truth the codec has.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from yitu.grid import vector
from yitu.grid.codec2d import decode, encode
from yitu.grid.codec3d import decode3d, encode3d, interleave
from yitu.grid.constants import LEN2D, LEN3D
from yitu.grid.height import Layer, layer_index

REPO = Path(__file__).resolve().parents[2]
VECTORS_NAME = "beidou-grid-vectors.csv"
KINDS = frozenset({
    "encode2d", "encode3d", "refer", "interleave", "decode_corner", "decode_bbox",
    "decode_height_bottom", "height_digits",
})


def shared_dir() -> Path:
    """``$YITU_SHARED`` if set, else the ``shared`` directory beside the repository."""
    env = os.environ.get("YITU_SHARED")
    return Path(env).expanduser().resolve() if env else REPO.parent / "shared"


def vectors_path() -> Path:
    return shared_dir() / "specs" / VECTORS_NAME


@dataclass(frozen=True)
class Row:
    line: int  # line number in the CSV (header = 1)
    kind: str
    lon: str
    lat: str
    height_m: str
    level: int
    profile: str
    expected: str
    source: str

    @property
    def id(self) -> str:
        return f"L{self.line}-{self.kind}"


def _load_rows() -> tuple[list[Row], str]:
    """(rows, problem): the problem text is non-empty if the CSV could not be read."""
    path = vectors_path()
    if not path.is_file():
        return [], (
            f"test vectors not found at {path}: the repository expects the shared specs "
            f"beside it (<repo>/../shared/specs/{VECTORS_NAME}); set YITU_SHARED to the "
            "directory that holds specs/ if they live elsewhere"
        )
    rows = []
    with path.open(newline="", encoding="utf-8") as f:
        for line, rec in enumerate(csv.DictReader(f), start=2):
            rows.append(Row(
                line, rec["kind"], rec["lon"], rec["lat"], rec["height_m"], int(rec["level"]),
                rec["profile"] or "gb", rec["expected"], rec["source"],
            ))
    return rows, ""


ROWS, LOAD_PROBLEM = _load_rows()


def _row_params() -> list[object]:
    if LOAD_PROBLEM:
        return [pytest.param(None, id="vectors-csv-missing")]
    return [pytest.param(r, id=r.id) for r in ROWS]


def _require(row: Row | None) -> Row:
    if row is None:
        pytest.fail(LOAD_PROBLEM)
    return row


def _tolerance(printed: str) -> float:
    """Half a unit in the last printed decimal place (plus float slack)."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return 0.5 * 10.0**-decimals + 1e-15 * max(1.0, abs(float(printed)))


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.split(",")]


def test_vectors_file_is_complete() -> None:
    if LOAD_PROBLEM:
        pytest.fail(LOAD_PROBLEM)
    kinds = {r.kind for r in ROWS}
    assert kinds == KINDS, f"unexpected or missing kinds: {kinds ^ KINDS}"
    assert len(ROWS) >= 42


@pytest.mark.parametrize("row", _row_params())
def test_vector_row(row: Row | None) -> None:
    row = _require(row)
    check = {
        "encode2d": _check_encode2d,
        "encode3d": _check_encode3d,
        "refer": _check_refer,
        "interleave": _check_interleave,
        "decode_corner": _check_decode_corner,
        "decode_bbox": _check_decode_bbox,
        "decode_height_bottom": _check_decode_height_bottom,
        "height_digits": _check_height_digits,
    }.get(row.kind)
    if check is None:
        pytest.fail(f"CSV line {row.line}: unknown vector kind {row.kind!r}")
    check(row)


def _check_encode2d(row: Row) -> None:
    lon, lat = float(row.lon), float(row.lat)
    assert encode(lon, lat, row.level) == row.expected, row.source
    got = vector.encode_str(np.array([lon]), np.array([lat]), row.level)
    assert got[0].decode() == row.expected
    assert decode(row.expected).level == row.level
    assert decode(row.expected).contains_point(lon, lat)


def _check_encode3d(row: Row) -> None:
    lon, lat, h = float(row.lon), float(row.lat), float(row.height_m)
    assert encode3d(lon, lat, h, row.level, row.profile) == row.expected, row.source
    got = vector.encode3d_str([lon], [lat], [h], row.level, row.profile)
    assert got[0].decode() == row.expected
    cell = decode3d(row.expected, row.profile)
    assert cell.code == row.expected
    assert cell.code2d == encode(lon, lat, row.level)
    assert cell.bottom <= h < cell.top
    assert cell.contains(lon, lat, h)


def _check_refer(row: Row) -> None:
    from yitu.grid.reference import dereference, refer

    target = row.lon
    reference = row.expected.split("-", 1)[0]
    assert refer(target, reference) == row.expected, row.source
    assert dereference(row.expected) == target


def _check_interleave(row: Row) -> None:
    layer = Layer.from_height(float(row.height_m), row.level, row.profile)
    assert interleave(row.lon, layer) == row.expected, row.source
    assert _interleave_by_spec(row.lon, layer.digits) == row.expected
    cell = decode3d(row.expected, row.profile)
    assert cell.code2d == row.lon
    lon, lat = decode(row.lon).centre
    assert encode3d(lon, lat, float(row.height_m), row.level, row.profile) == row.expected


def _check_decode_corner(row: Row) -> None:
    cell = decode(row.lon)
    assert cell.level == row.level
    want = row.expected.split(",")
    for got, printed in zip(cell.corner, want, strict=True):
        assert got == pytest.approx(float(printed), abs=_tolerance(printed)), row.source


def _check_decode_bbox(row: Row) -> None:
    cell = decode(row.lon)
    assert cell.level == row.level
    want = row.expected.split(",")
    for got, printed in zip(cell.bbox, want, strict=True):
        assert got == pytest.approx(float(printed), abs=_tolerance(printed)), row.source


def _check_decode_height_bottom(row: Row) -> None:
    m = re.search(r"within\s+([0-9.eE+-]+)\s*m", row.source)
    assert m, f"CSV line {row.line}: the source column names no tolerance ('within … m')"
    tol = float(m.group(1))
    cell = decode3d(row.lon, row.profile)
    assert cell.level == row.level
    assert cell.bottom == pytest.approx(float(row.expected), abs=tol), row.source


def _check_height_digits(row: Row) -> None:
    h = float(row.height_m)
    layer = Layer.from_height(h, row.level, row.profile)
    assert layer.digits == row.expected, row.source
    # the same digits through the vectorised 3D encoder, and back through the decoder
    code = vector.encode3d_str([116.3], [39.9], [h], row.level, row.profile)[0].decode()
    assert _height_part(code) == row.expected
    cell = decode3d(code, row.profile)
    assert cell.bottom <= h < cell.top


# --------------------------------------------------------------------------------------------
# spec §8.2 — height-only table (every row, GB and C14-sm; the C14-2c column is not a profile
# of this project) and decode vectors
# --------------------------------------------------------------------------------------------
HEIGHT_TABLE = [
    # H (m), n, GB, C14-sm
    (0.0, 0, "000000000000", "000000000000"),
    (0.01, 0, "000000000000", "000000000000"),
    (50.0, 3340, "000000006414", "000000006414"),
    (100.0, 6680, "000000015030", "000000015030"),
    (120.5, 8050, "000000017562", "000000017562"),
    (1839.58, 122879, "000000E17777", "000000E17777"),
    (1839.6, 122880, "000001000000", "000000F00000"),
    (8848.86, 590758, "000004C01646", "000004801646"),
    (25125.0, 1675235, "00000D907743", "00000CC07743"),
    (35_786_000.0, 804784010, "027209503612", "02371C003612"),
    (-0.001, -1, "16371EE17777", "100000000001"),
    (-1.0, -67, "16371EE17675", "100000000103"),
    (-100.0, -6681, "16371EE02747", "100000015031"),
    (-430.0, -28729, "16371EB07707", "100000310071"),
]


def _interleave_by_spec(code2d: str, height: str) -> str:
    """§4.2 written out: hemi + a0 + [L1: 3] + a1a2 + [L2] + a3 + … (independent of the library)."""
    parts = [code2d[0], height[0]]
    hpos = 1
    for lv in range(1, len(LEN2D)):
        if LEN2D[lv] > len(code2d):
            break
        parts.append(code2d[LEN2D[lv - 1] : LEN2D[lv]])
        width = 2 if lv == 1 else 1
        parts.append(height[hpos : hpos + width])
        hpos += width
    return "".join(parts)


def _height_part(code3d: str) -> str:
    """The height characters a0…a_L of a 3D code (inverse of ``_interleave_by_spec``)."""
    level = LEN3D.index(len(code3d))
    out = [code3d[1]]
    pos = 2
    for lv in range(1, level + 1):
        pos += LEN2D[lv] - LEN2D[lv - 1]
        width = 2 if lv == 1 else 1
        out.append(code3d[pos : pos + width])
        pos += width
    return "".join(out)


@pytest.mark.parametrize("profile", ["gb", "c14"])
@pytest.mark.parametrize(
    ("h", "n", "gb", "c14"), HEIGHT_TABLE, ids=[str(r[0]) for r in HEIGHT_TABLE]
)
def test_height_table(h: float, n: int, gb: str, c14: str, profile: str) -> None:
    expected = gb if profile == "gb" else c14
    assert int(layer_index(h)) == n
    layer = Layer.from_height(h, 10, profile)  # type: ignore[arg-type]
    assert layer.digits == expected
    assert layer.index_range == (n, n + 1)
    assert layer.bottom <= h < layer.top
    # decode the digits back (inside a level-10 3D code) to the same layer
    code = _interleave_by_spec("N50J47539B8255346152", expected)
    cell = decode3d(code, profile)  # type: ignore[arg-type]
    assert cell.layer.index_range == (n, n + 1)
    assert cell.code == code


def test_decode_vector_sw_corner_and_box() -> None:
    cell = decode("S11J47539B8255346152")
    assert cell.corner == pytest.approx((-116.312602674696, -39.993161078559), abs=5e-13)
    assert cell.bbox == pytest.approx(
        (-116.312602810330, -39.993161214193, -116.312602674696, -39.993161078559), abs=5e-13
    )


def test_decode_vector_western_zone_edge() -> None:
    assert decode("N29C0420800000000000").bbox == pytest.approx(
        (-6.000000135634, 10.3, -6.0, 10.300000135634), abs=5e-13
    )
    assert encode(-6.0, 10.3) == "N29C0420800000000000"


def test_decode_vector_3d_layer() -> None:
    cell = decode3d("N050J004705039DB8920557347")
    assert cell.code2d == "N50J47539B825534"
    assert cell.layer.index_range == (26175 * 64, 26176 * 64)  # n8 = 26175
    assert cell.layer.ordinal == 26175
    assert cell.bottom == pytest.approx(25124.4602, abs=5e-5)
    assert cell.top == pytest.approx(25125.4220, abs=5e-5)


def test_table1_3d_example_layer_zero() -> None:
    cell = decode3d("N036J0093000780B3010010520430140")
    assert cell.code2d == "N36J93078B3101524314"
    assert cell.layer.index_range == (0, 1)
    assert cell.bottom == 0.0
    assert cell.top == pytest.approx(0.01497, abs=1e-5)


@pytest.mark.parametrize("profile", ["gb", "c14"])
def test_vertical_neighbour_carry_v18(profile: str) -> None:
    """V18: level-7 height ``000000015`` plus one layer, three times, is ``000000100``."""
    code = _interleave_by_spec("N50J47539B8255", "000000015")
    cell = decode3d(code, profile)  # type: ignore[arg-type]
    for _ in range(3):
        up = cell.up()
        assert up is not None
        cell = up
    assert _height_part(cell.code) == "000000100"
    assert cell.code == _interleave_by_spec("N50J47539B8255", "000000100")
