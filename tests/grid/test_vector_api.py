"""The vectorised API (``yitu.grid.vector``) against the scalar codec, on mixed-level data."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from yitu.grid import vector
from yitu.grid.codec2d import Cell, decode, encode
from yitu.grid.codec3d import encode3d
from yitu.grid.constants import LEN2D, MAX_LAT_UNITS, MAX_LEVEL, MAX_LON_UNITS
from yitu.grid.height import H_MAX, H_MIN, layer_index
from yitu.grid.intcode import (
    int_children,
    int_descendant_range,
    int_level,
    int_parent,
    to_int,
)

SEED = 20261126


def random_codes(n: int, seed: int = SEED, levels: tuple[int, int] = (0, MAX_LEVEL)) -> list[str]:
    """Codes of uniformly random cells, all hemispheres, random levels in ``levels``."""
    rng = np.random.default_rng(seed)
    return [
        Cell.from_units(
            bool(rng.integers(2)), bool(rng.integers(2)), int(rng.integers(MAX_LON_UNITS)),
            int(rng.integers(MAX_LAT_UNITS)), int(rng.integers(levels[0], levels[1] + 1)),
        ).code
        for _ in range(n)
    ]


def random_points(n: int, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    lon = rng.uniform(-180, 180, n)
    lat = rng.uniform(-88, 88, n)
    lat[np.abs(lat) >= 88] = 0.0
    return lon, lat


CODES = random_codes(2000)


def as_str(a: np.ndarray) -> list[str]:
    return [s.decode() for s in a]


# --------------------------------------------------------------------------------------------
# encode
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", range(1, MAX_LEVEL + 1))
def test_encode_str_and_int_equal_scalar(level: int) -> None:
    lon, lat = random_points(500, SEED + level)
    want = [encode(float(a), float(b), level) for a, b in zip(lon, lat, strict=True)]
    got = vector.encode_str(lon, lat, level)
    assert got.dtype == np.dtype(f"S{LEN2D[level]}")
    assert as_str(got) == want
    assert vector.encode_int(lon, lat, level).tolist() == [to_int(c) for c in want]


def test_encode_accepts_lists_ints_and_float32() -> None:
    assert as_str(vector.encode_str([116, -6], [40, 10], 4)) == [
        encode(116, 40, 4), encode(-6, 10, 4)
    ]
    f32 = np.array([116.3], dtype=np.float32)
    # a float32 is widened to the float64 of the same value, then the scalar rule applies
    assert as_str(vector.encode_str(f32, np.array([39.9], dtype=np.float32))) == [
        encode(float(np.float64(f32[0])), float(np.float64(np.float32(39.9))))
    ]


def test_encode_spans_several_blocks() -> None:
    n = vector.CHUNK * 2 + 17
    lon, lat = random_points(n, SEED + 99)
    got = vector.encode_str(lon, lat)
    for i in (0, vector.CHUNK - 1, vector.CHUNK, 2 * vector.CHUNK, n - 1):
        assert got[i].decode() == encode(float(lon[i]), float(lat[i]))
    assert vector.encode_int(lon, lat).tolist() == vector.str_to_int(got).tolist()


@pytest.mark.parametrize("level", [1, 5, MAX_LEVEL])
def test_encode_arrow_is_a_string_array_equal_to_numpy(level: int) -> None:
    lon, lat = random_points(300, SEED + 7)
    arr = vector.encode_arrow(lon, lat, level)
    assert isinstance(arr, pa.StringArray)
    assert arr.type == pa.string()
    assert len(arr) == lon.size
    assert arr.null_count == 0
    assert arr.to_pylist() == as_str(vector.encode_str(lon, lat, level))


def test_encode_arrow_empty() -> None:
    arr = vector.encode_arrow(np.array([]), np.array([]))
    assert isinstance(arr, pa.StringArray)
    assert len(arr) == 0


def test_to_arrow_mixed_lengths() -> None:
    arr = vector.to_arrow(vector.int_to_str(vector.str_to_int(CODES)))
    assert arr.type == pa.string()
    assert arr.to_pylist() == CODES


def test_encode3d_str_equals_scalar() -> None:
    lon, lat = random_points(400, SEED + 3)
    rng = np.random.default_rng(SEED + 4)
    h = np.concatenate([rng.uniform(H_MIN, H_MAX, 200), rng.uniform(-500, 10_000, 200)])
    for profile in ("gb", "c14"):
        for level in (1, 3, 4, 6, MAX_LEVEL):
            got = as_str(vector.encode3d_str(lon, lat, h, level, profile))
            want = [
                encode3d(float(a), float(b), float(c), level, profile)  # type: ignore[arg-type]
                for a, b, c in zip(lon, lat, h, strict=True)
            ]
            assert got == want, (profile, level)


def test_layer_indices_equal_scalar() -> None:
    rng = np.random.default_rng(SEED + 5)
    h = rng.uniform(H_MIN, H_MAX, 500)
    got = vector.layer_indices(h)
    assert got.tolist() == [int(layer_index(float(x))) for x in h]


# --------------------------------------------------------------------------------------------
# decode and conversions, any mix of levels
# --------------------------------------------------------------------------------------------
def test_mixed_level_round_trips() -> None:
    ints = vector.str_to_int(CODES)
    assert ints.dtype == np.int64
    assert ints.tolist() == [to_int(c) for c in CODES]
    assert as_str(vector.int_to_str(ints)) == CODES
    assert vector.int_level(ints).tolist() == [decode(c).level for c in CODES]
    # numpy U, S and object arrays, and plain lists, are all accepted
    for form in (np.array(CODES), np.array(CODES, dtype="S20"), np.array(CODES, dtype=object)):
        assert vector.str_to_int(form).tolist() == ints.tolist()


def test_decode_str_equals_scalar_decode() -> None:
    cells = vector.decode_str(CODES)
    scalar = [decode(c) for c in CODES]
    assert cells.level.tolist() == [c.level for c in scalar]
    assert cells.east.tolist() == [c.east for c in scalar]
    assert cells.north.tolist() == [c.north for c in scalar]
    assert cells.x.tolist() == [c.x for c in scalar]
    assert cells.y.tolist() == [c.y for c in scalar]
    assert np.array_equal(cells.bbox(), np.array([c.bbox for c in scalar]))
    decoded = vector.decode_int(vector.str_to_int(CODES))
    for a, b in zip(decoded, cells, strict=True):
        assert np.array_equal(a, b)


def test_centres_equal_scalar_and_reencode() -> None:
    codes = random_codes(1000, SEED + 11, levels=(1, MAX_LEVEL))
    centres = vector.decode_str(codes).centre()
    scalar = np.array([decode(c).centre for c in codes])
    assert np.allclose(centres, scalar, rtol=0, atol=1e-12)
    for code, (lon, lat) in zip(codes, centres, strict=True):
        assert encode(float(lon), float(lat), decode(code).level) == code


def test_level0_centre_is_the_middle_of_the_hemisphere() -> None:
    """Level 0 is a hemisphere, box (-180, 0, 180, 88) in the north: its centre is (0, ±44)."""
    cells = vector.decode_str(["N", "S"])
    assert cells.centre().tolist() == [[0.0, 44.0], [0.0, -44.0]]
    for code in ("N", "S"):
        w, s, e, n = decode(code).bbox
        assert decode(code).centre == ((w + e) / 2, (s + n) / 2)


def test_decode_empty_arrays() -> None:
    for empty in (np.array([], dtype="S20"), np.array([], dtype="U20")):
        cells = vector.decode_str(empty)
        assert all(f.size == 0 for f in cells)
    assert vector.str_to_int(np.array([], dtype="S20")).size == 0
    assert vector.int_to_str(np.array([], dtype=np.int64)).size == 0
    assert vector.int_to_str([]).size == 0


def test_decode_empty_list() -> None:
    """An empty batch (e.g. a query with no rows) decodes like ``encode_str([], [])`` encodes."""
    assert all(f.size == 0 for f in vector.decode_str([]))
    assert vector.str_to_int([]).size == 0


# --------------------------------------------------------------------------------------------
# hierarchy on integer codes
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("level", range(0, MAX_LEVEL + 1))
def test_int_parent_equals_scalar(level: int) -> None:
    codes = [c for c in CODES if decode(c).level >= level]
    ints = vector.str_to_int(codes)
    got = vector.int_parent(ints, level)
    assert got.tolist() == [int_parent(int(v), level) for v in ints]
    # and the parent is the prefix of the string
    assert as_str(vector.int_to_str(got)) == [c[: LEN2D[level]] for c in codes]


def test_int_children_range_equals_scalar_children() -> None:
    codes = [c for c in CODES if decode(c).level < MAX_LEVEL]
    ints = vector.str_to_int(codes)
    first, last = vector.int_children_range(ints)
    for v, a, b in zip(ints.tolist(), first.tolist(), last.tolist(), strict=True):
        kids = int_children(v)
        assert (a, b) == (kids[0], kids[-1])


def test_int_descendant_range_equals_scalar() -> None:
    ints = vector.str_to_int(CODES)
    lo, hi = vector.int_descendant_range(ints)
    assert list(zip(lo.tolist(), hi.tolist(), strict=True)) == [
        int_descendant_range(int(v)) for v in ints
    ]
    assert vector.int_level(ints).tolist() == [int_level(int(v)) for v in ints]


def test_int_sort_order_equals_string_order() -> None:
    ints = vector.str_to_int(CODES)
    order = np.argsort(ints, kind="stable")
    assert [CODES[i] for i in order] == sorted(CODES)
