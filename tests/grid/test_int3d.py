"""3D integer forms: the 128-bit interleaved form and the (2D integer, layer ordinal) pair."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from yitu.grid.codec3d import decode3d, encode3d
from yitu.grid.errors import InvalidCodeError
from yitu.grid.intcode import (
    INT3D_LIMIT,
    from_int3d,
    int3d_bytes,
    int3d_from_bytes,
    pair3d,
    to_int,
    to_int3d,
)

lons = st.floats(-180, 180, allow_nan=False)
lats = st.floats(-87.999, 87.999, allow_nan=False)
heights = st.floats(-6_000_000, 500_000_000, allow_nan=False)
profiles = st.sampled_from(["gb", "c14"])


@st.composite
def codes3d(draw: st.DrawFn) -> tuple[str, str]:
    profile = draw(profiles)
    code = encode3d(draw(lons), draw(lats), draw(heights), draw(st.integers(1, 10)), profile)
    return code, profile


@settings(max_examples=400, deadline=None)
@given(codes3d())
def test_round_trip(case: tuple[str, str]) -> None:
    code, profile = case
    v = to_int3d(code, profile)
    assert 0 <= v < INT3D_LIMIT < 2**127
    assert from_int3d(v, profile) == code
    assert int3d_from_bytes(int3d_bytes(v)) == v


@settings(max_examples=100, deadline=None)
@given(st.lists(codes3d(), min_size=2, max_size=30), profiles)
def test_integer_and_byte_order_equal_string_order(cases: list[tuple[str, str]], p: str) -> None:
    codes = [encode3d(*decode3d(c, prof).centre, decode3d(c, prof).level, p) for c, prof in cases]
    by_string = sorted(codes)
    assert sorted(codes, key=lambda c: to_int3d(c, p)) == by_string
    assert sorted(codes, key=lambda c: int3d_bytes(to_int3d(c, p))) == by_string


def test_table1_example_and_pair() -> None:
    code = "N036J0093000780B3010010520430140"  # GB/T 39409 §9 Table 1, height layer 0
    assert from_int3d(to_int3d(code)) == code
    v2d, ordinal = pair3d(code)
    assert v2d == to_int("N36J93078B3101524314") and ordinal == 0
    assert pair3d("N050J004705039DB8920557347")[1] == 26175  # level-8 layer of 25 125 m


def test_pair_ordinal_orders_heights_both_profiles() -> None:
    for profile in ("gb", "c14"):
        ordinals = [pair3d(encode3d(111.67, 32.38, h, 6, profile), profile)[1]
                    for h in (-500.0, -61.0, -1.0, 0.0, 61.0, 500.0)]
        assert ordinals == sorted(ordinals) and ordinals[3] == 0 and ordinals[2] == -1


def test_bad_integers() -> None:
    with pytest.raises(InvalidCodeError, match="outside"):
        from_int3d(INT3D_LIMIT)
    with pytest.raises(InvalidCodeError, match="outside"):
        from_int3d(-1)
    v = to_int3d("N050J0047050340")  # level 4: levels 5-10 absent
    with pytest.raises(InvalidCodeError, match="absent"):
        from_int3d(v + 1)  # a level-10 slot without levels 5-9
