"""Tests of yitu.grid.reference: reference codes (GB/T 39409 §7) and short codes (§8)."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from yitu.grid.codec2d import decode, encode
from yitu.grid.constants import MAX_LEVEL
from yitu.grid.errors import GridError, InvalidCodeError
from yitu.grid.hierarchy import SUFFIXES, grid_distance, neighbour, parent
from yitu.grid.reference import dereference, refer, resolve_short_code, short_code

lons = st.floats(min_value=-180, max_value=180, allow_nan=False)
lats = st.floats(min_value=-87.999, max_value=87.999, allow_nan=False)
FAST = settings(max_examples=80, deadline=None)

# GB/T 39409 §8 example places.
QIUSHI_TOWER = "N50J475491E"  # 求是塔
OFFICE = "N50J475492E"  # 办公楼
EAST_GATE = "N50J475493E"  # 东一门
PLACES = {"求是塔": QIUSHI_TOWER, "办公楼": OFFICE, "东一门": EAST_GATE}


def flip(ch: str) -> str:
    """Negate one offset character: 0–7 ↔ A–G (0 stays 0)."""
    if ch == "0":
        return ch
    if ch.isdigit():
        return chr(ord("A") + int(ch) - 1)
    return str(ord(ch) - ord("A") + 1)


def mirror_lon(code: str) -> str:
    return code[0] + f"{61 - int(code[1:3]):02d}" + code[3:]


def mirror_lat(code: str) -> str:
    return ("S" if code[0] == "N" else "N") + code[1:]


# --- the standard's vectors ------------------------------------------------------------------
def test_standard_vectors() -> None:
    assert refer(EAST_GATE, QIUSHI_TOWER) == "N50J475491E-20"
    assert refer(EAST_GATE, OFFICE) == "N50J475492E-10"
    assert refer(QIUSHI_TOWER, EAST_GATE) == "N50J475493E-B0"
    assert dereference("N50J475491E-20") == EAST_GATE
    assert dereference("N50J475492E-10") == EAST_GATE
    assert dereference("N50J475493E-B0") == QIUSHI_TOWER


def test_short_code_vectors() -> None:
    assert short_code("求是塔", EAST_GATE, QIUSHI_TOWER) == "求是塔-20"
    assert short_code("办公楼", EAST_GATE, OFFICE) == "办公楼-10"
    assert short_code("东一门", QIUSHI_TOWER, EAST_GATE) == "东一门-B0"
    assert resolve_short_code("求是塔-20", PLACES) == EAST_GATE
    assert resolve_short_code("办公楼-10", PLACES) == EAST_GATE
    assert resolve_short_code("东一门-B0", PLACES) == QIUSHI_TOWER


def test_short_code_with_refinement_and_lowercase() -> None:
    target = EAST_GATE + "2" + "53"
    short = short_code("求是塔", target, QIUSHI_TOWER)
    assert short == "求是塔-20-01-53"
    assert resolve_short_code(short, PLACES) == target
    assert resolve_short_code("求是塔-20-01-53".lower(), PLACES) == target  # letters in any case


def test_short_code_place_names_with_the_separator() -> None:
    places = {"A-1": QIUSHI_TOWER, "A": EAST_GATE}
    assert resolve_short_code("A-1-20", places) == EAST_GATE  # longest matching name wins
    assert resolve_short_code("A-B0", places) == QIUSHI_TOWER


def test_short_code_errors() -> None:
    with pytest.raises(GridError, match="unknown place name '图书馆'"):
        resolve_short_code("图书馆-20", PLACES)
    with pytest.raises(GridError, match="non-empty"):
        short_code(" ", EAST_GATE, QIUSHI_TOWER)
    with pytest.raises(GridError, match="must not end with the separator"):
        short_code("求是塔-", EAST_GATE, QIUSHI_TOWER)


# --- refinement groups and hemispheres -------------------------------------------------------
def test_refinement_groups_ne_and_sw() -> None:
    # Each finer level adds its column/row, as a geographic offset from the parent's corner.
    assert refer("N50J47539B8255346152", "N50J47539B82") == "N50J47539B82-00-55-34-61-52"
    # SW: the same folded digits lie west and south of the positioning corner -> letters.
    assert refer("S11J47539B8255346152", "S11J47539B82") == "S11J47539B82-00-EE-CD-FA-EB"
    assert dereference("S11J47539B82-00-EE-CD-FA-EB") == "S11J47539B8255346152"
    # NW and SE: only one axis turns into letters.
    assert refer("N11J47539B8255346152", "N11J47539B82") == "N11J47539B82-00-E5-C4-F1-E2"
    assert refer("S50J47539B8255346152", "S50J47539B82") == "S50J47539B82-00-5E-3D-6A-5B"


def test_z_order_level_is_written_as_a_column_row_pair() -> None:
    # Level 6 is a Z-order digit 0–3 (2·row + col), but a refinement group is always MN.
    assert [refer(EAST_GATE + z, QIUSHI_TOWER) for z in "0123"] == [
        "N50J475491E-20-00",
        "N50J475491E-20-10",
        "N50J475491E-20-01",
        "N50J475491E-20-11",
    ]
    assert refer("S11J475493E3", "S11J475491E") == "S11J475491E-B0-AA"


def test_geographic_offsets_in_the_western_and_southern_hemispheres() -> None:
    # Mirror images of the §8 campus: east-of becomes west-of, and the code says so.
    assert refer("S11J475493E", "S11J475491E") == "S11J475491E-B0"
    assert refer("N11J475493E", "N11J475491E") == "N11J475491E-B0"
    assert refer("S50J475493E", "S50J475491E") == "S50J475491E-20"
    # Going east in the W hemisphere decreases the folded index (spec §3.4).
    east = neighbour("S11J475491E", 1, 0)
    assert east == "S11J475490E"
    assert refer(east, "S11J475491E") == "S11J475491E-10"
    north = neighbour("S11J475491E", 0, 1)
    assert refer(north, "S11J475491E") == "S11J475491E-01"


def test_across_the_prime_meridian_and_equator() -> None:
    origin = "N31A0000000"  # the level-5 cell NE of (0°, 0°)
    assert refer("N30A0000000", origin) == "N31A0000000-A0"
    assert refer("S30A0000000", origin) == "N31A0000000-AA"
    # Refinements use the target's own hemisphere, not the reference's.
    assert refer("N30A0000000011", origin) == "N31A0000000-A0-00-A1"
    assert dereference("N31A0000000-A0-00-A1") == "N30A0000000011"
    assert refer("S30A0000000011", origin) == "N31A0000000-AA-00-AA"
    assert dereference("N31A0000000-AA-00-AA") == "S30A0000000011"


def test_across_the_antimeridian() -> None:
    east_edge = encode(179.999, 10, 5)
    west_edge = encode(-179.999, 10, 5)
    assert (east_edge[1:3], west_edge[1:3]) == ("60", "01")
    assert refer(west_edge, east_edge) == east_edge + "-10"
    assert refer(east_edge, west_edge) == west_edge + "-A0"
    assert dereference(east_edge + "-10") == west_edge


# --- errors ----------------------------------------------------------------------------------
def test_refer_errors() -> None:
    far = encode(116.33, 39.999, 5)
    with pytest.raises(GridError, match=r"\+11 cells east and \+0 cells north"):
        refer(far, QIUSHI_TOWER)
    with pytest.raises(GridError, match="level 5 or finer"):
        refer("N50J47549", "N50J47539")
    with pytest.raises(GridError, match="coarser than reference"):
        refer("N50J47539", QIUSHI_TOWER)
    with pytest.raises(InvalidCodeError):
        refer("N50J4754A1E", QIUSHI_TOWER)
    eight_south = neighbour(QIUSHI_TOWER, 0, -8)
    assert eight_south is not None
    with pytest.raises(GridError, match=r"\+0 cells east and -8 cells north"):
        refer(eight_south, QIUSHI_TOWER)
    with pytest.raises(GridError, match="separator"):
        refer(EAST_GATE, QIUSHI_TOWER, separator="0")


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("N50J475491E", "no '-' separator"),
        ("N50J475491E-", "group 1 '' must be exactly two"),
        ("N50J475491E-2", "group 1 '2' must be exactly two"),
        ("N50J475491E-H0", "longitude offset 'H' in group 1"),
        ("N50J475491E-08", "latitude offset '8' in group 1"),
        ("N50J475491E-00-20", "group 2 longitude offset '2' leaves the level-5 parent"),
        ("S11J475491E-00-30", "in the western hemisphere it must be 0 or A$"),
        ("S11J475491E-00-0B", "in the southern hemisphere it must be 0 or A$"),
        ("N50J475491E-00-00-80", "longitude offset '8' in group 3"),
        ("N50J475491E-00-00-00-00-00-00-00", "6 refinement groups after a level-5"),
        ("N50J47539-00", "level 5 or finer"),
        ("N50J4754X1E-00", "position 9"),
    ],
)
def test_dereference_errors(bad: str, message: str) -> None:
    with pytest.raises(GridError, match=message):
        dereference(bad)


def test_dereference_past_the_polar_limit() -> None:
    top = encode(0.5, 87.9999, 5)
    with pytest.raises(GridError, match="88° latitude limit"):
        dereference(top + "-01")


# --- properties ------------------------------------------------------------------------------
@st.composite
def referable(draw: st.DrawFn) -> tuple[str, str, int, int]:
    """(target, reference, dx, dy): a reference cell and a target within ±7 cells of it."""
    ref_level = draw(st.integers(min_value=5, max_value=MAX_LEVEL))
    ref = encode(draw(lons), draw(lats), ref_level)
    dx = draw(st.integers(min_value=-7, max_value=7))
    dy = draw(st.integers(min_value=-7, max_value=7))
    base = neighbour(ref, dx, dy)
    assume(base is not None)
    assert base is not None
    target_level = draw(st.integers(min_value=ref_level, max_value=MAX_LEVEL))
    target = base + "".join(
        draw(st.sampled_from(SUFFIXES[lv])) for lv in range(ref_level + 1, target_level + 1)
    )
    return target, ref, dx, dy


@FAST
@given(referable())
def test_refer_dereference_round_trip(case: tuple[str, str, int, int]) -> None:
    target, ref, dx, dy = case
    code = refer(target, ref)
    assert dereference(code) == target
    groups = code.split("-")
    assert groups[0] == ref
    assert len(groups) == 2 + decode(target).level - decode(ref).level
    assert groups[1] == (str(dx) if dx >= 0 else chr(64 - dx)) + (
        str(dy) if dy >= 0 else chr(64 - dy)
    )
    assert grid_distance(parent(target, decode(ref).level), ref) == max(abs(dx), abs(dy))
    # Through a short code as well.
    assert resolve_short_code(short_code("网格站", target, ref), {"网格站": ref}) == target


@FAST
@given(referable())
def test_refer_mirrors_across_hemispheres(case: tuple[str, str, int, int]) -> None:
    target, ref, _, _ = case
    groups = refer(target, ref).split("-")[1:]
    # Mirroring across the prime meridian negates every longitude offset, across the equator
    # every latitude offset; the folded digits of the codes stay the same.
    lon_mirrored = refer(mirror_lon(target), mirror_lon(ref)).split("-")[1:]
    assert lon_mirrored == [flip(g[0]) + g[1] for g in groups]
    lat_mirrored = refer(mirror_lat(target), mirror_lat(ref)).split("-")[1:]
    assert lat_mirrored == [g[0] + flip(g[1]) for g in groups]
